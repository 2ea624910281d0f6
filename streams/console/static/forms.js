// Forms that talk to the operator API: a refused save shows the server's message next to the field
// it names (or above the form), a 409 says someone else saved first, and success says so.

import {ApiError, esc} from "./api.js";

export function field(name, label, value = "", {type = "text", options = null, help = "", width = "9rem"} = {}) {
  const control = options
    ? `<select name="${esc(name)}" id="f-${esc(name)}">${options.map(o =>
        `<option value="${esc(o)}"${String(o) === String(value) ? " selected" : ""}>${esc(o)}</option>`).join("")}</select>`
    : `<input name="${esc(name)}" id="f-${esc(name)}" type="${type}" value="${esc(value)}" style="width:${width}" autocomplete="off">`;
  return `<div class="field"><label for="f-${esc(name)}">${esc(label)}</label>${control}` +
         `<div class="field-error" data-error-for="${esc(name)}">${esc(help)}</div></div>`;
}

export function clearErrors(form) {
  form.querySelectorAll(".field-error").forEach(e => { e.textContent = ""; });
  form.querySelectorAll(".invalid").forEach(e => e.classList.remove("invalid"));
  const notice = form.querySelector(".notice");
  if (notice) notice.remove();
}

export function notice(form, text, kind) {
  const div = document.createElement("div");
  div.className = `notice ${kind}`;
  div.setAttribute("role", kind === "error" ? "alert" : "status");
  div.textContent = text;
  form.prepend(div);
}

// Wire `form` to `send(values)`. After a success `done(result, okText)` runs (a page redraw that shows
// okText on top), or without `done` the form itself says okText. A refusal is shown on the form.
export function bind(form, send, done, okText = "Saved.") {
  form.addEventListener("submit", async event => {
    event.preventDefault();
    clearErrors(form);
    const values = Object.fromEntries(new FormData(form).entries());
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      const result = await send(values);
      if (done) await done(result, okText);
      else notice(form, okText, "ok");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const name = (error.field || "").split(".").find(part => form.querySelector(`[name="${part}"]`));
      const slot = name && form.querySelector(`[data-error-for="${name}"]`);
      if (slot) {
        slot.textContent = error.message;
        form.querySelector(`[name="${name}"]`).classList.add("invalid");
      } else if (error.status === 409) {
        notice(form, `Someone else saved this since you opened it: ${error.message}. Reload to see their change.`, "error");
      } else {
        notice(form, error.message, "error");
      }
    } finally {
      if (button) button.disabled = false;
    }
  });
}

// A number as a number, blank as null, anything else as typed, so the API names what is wrong with it.
export function numberOrText(text) {
  const trimmed = String(text ?? "").trim();
  return trimmed === "" ? null : /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : trimmed;
}
