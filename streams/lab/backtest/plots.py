"""Server-side plots as inline SVG, so the report needs no network and no plotting library to view."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

Series = tuple[str, Sequence[datetime], Sequence[float]]


def _days(moments: Sequence[datetime]) -> list[float]:
    """Matplotlib's date numbers (days since its epoch), typed."""
    converted: list[float] = list(mdates.date2num(list(moments)))  # type: ignore[no-untyped-call]
    return converted


def svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element (the XML prologue dropped: it is embedded in HTML)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def share_panels(panels: Sequence[tuple[str, Sequence[Series]]], title: str) -> str:
    """One panel per policy (logged first): each entity's budget share over time."""
    figure, axes = plt.subplots(len(panels), 1, figsize=(8, 2.2 * len(panels)), sharex=True, squeeze=False)
    for ax, (name, lines) in zip(axes[:, 0], panels, strict=True):
        for label, xs, ys in lines:
            ax.step(_days(xs), list(ys), where="post", label=label)
        ax.xaxis_date()
        ax.set_ylabel("share")
        ax.set_ylim(0, 1)
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    figure.suptitle(title, fontsize=10)
    figure.autofmt_xdate()
    return svg(figure)


def cumulative(lines: Sequence[Series], title: str, ylabel: str) -> str:
    figure, ax = plt.subplots(figsize=(8, 3))
    for label, xs, ys in lines:
        ax.step(_days(xs), list(ys), where="post", label=label)
    ax.xaxis_date()
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    figure.autofmt_xdate()
    return svg(figure)
