// Signing in: with a Firebase ID token (pasted, or from email and password through Firebase's
// Identity Toolkit when the deployment configures a web API key), or - under `roasloop dev` - as a
// role of the simulated tenant. The token becomes an HttpOnly session cookie (POST /console/session).

import {ApiError, api, esc} from "./api.js";
import {signedIn} from "./app.js";
import {bind, field} from "./forms.js";

export async function renderSignIn(view, session) {
  const config = session.config || {};
  const dev = config.dev_sign_in
    ? `<div class="card"><h2>Development sign-in</h2>
         <p class="muted">roasloop dev signs you in to the simulated tenant <b>${esc(config.dev_tenant)}</b> with a token of its local issuer.</p>
         <div class="roles">${["VIEWER", "EDITOR", "ADMIN"].map(role =>
           `<a class="button" href="/console/dev/sign-in?role=${role}"><button type="button" data-testid="dev-${role}">Sign in as ${role}</button></a>`).join("")}</div></div>`
    : "";
  const email = config.email_sign_in
    ? `<form class="card" id="email-form"><h2>Email and password</h2><div class="inline">
         ${field("email", "Email", "", {type: "email", width: "18rem"})}${field("password", "Password", "", {type: "password", width: "18rem"})}
       </div><button type="submit">Sign in</button></form>`
    : "";
  view.innerHTML = `<div class="signin"><h1>Sign in to roasloop</h1>${dev}${email}
    <form class="card" id="token-form"><h2>Firebase ID token</h2>
      <div class="field"><label for="f-id_token">Paste an ID token issued for this project</label>
      <textarea name="id_token" id="f-id_token" rows="4" style="width:100%"></textarea>
      <div class="field-error" data-error-for="id_token"></div></div>
      <button type="submit">Sign in</button></form></div>`;
  bind(view.querySelector("#token-form"), values => api("POST", "/console/session", {id_token: values.id_token.trim()}),
       signedIn, "Signed in.");
  const emailForm = view.querySelector("#email-form");
  if (emailForm) {
    bind(emailForm, async values => {
      const url = `${config.identity_toolkit_url}/v1/accounts:signInWithPassword?key=${encodeURIComponent(config.firebase_web_api_key)}`;
      const reply = await fetch(url, {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify({email: values.email, password: values.password, returnSecureToken: true})});
      const data = await reply.json();
      if (!reply.ok) throw new ApiError(reply.status, data.error?.message || "sign-in failed", "email");
      return api("POST", "/console/session", {id_token: data.idToken});
    }, signedIn, "Signed in.");
  }
}
