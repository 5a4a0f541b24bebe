"""The coordinators' chart: activities per week over the last eight weeks, as a PNG.

matplotlib with the Agg backend, through the object API (`Figure`, no pyplot global
state), in DejaVu Sans, which ships with matplotlib and has Arabic glyphs. Labels come in
the reader's language. Arabic needs shaping (joined letter forms) and right-to-left
ordering: matplotlib 3.11 and later do both themselves (libraqm); with an older
matplotlib the text is shaped here with arabic-reshaper and python-bidi. In Arabic the
weeks run from right to left, as the reader's eye does.

Building a figure costs more than drawing it, so each thread keeps one figure per number
of bars and only changes its heights and texts (about 20 ms a chart instead of 50).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib import ft2font
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

FONT = "DejaVu Sans"
BAR_COLOR = "#2b7bb9"
SIZE = (6.0, 3.0)  # inches; at 100 dpi a 600 x 300 picture, light on a phone
DPI = 100
RTL_LOCALES = frozenset({"ar"})
# matplotlib >= 3.11 lays text out with libraqm (shaping and bidi); older ones do not.
NATIVE_SHAPING = hasattr(ft2font.FT2Font, "_layout")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _has_rtl(text: str) -> bool:
    return any("\u0590" <= ch <= "\u08ff" or "\ufb1d" <= ch <= "\ufefc" for ch in text)


def shape(text: str, native: bool = NATIVE_SHAPING) -> str:
    """Text as it must be handed to matplotlib to be drawn legibly."""
    if native or not _has_rtl(text):
        return text
    import arabic_reshaper
    from bidi.algorithm import get_display

    return str(get_display(arabic_reshaper.reshape(text)))


class _Template:
    """One reusable figure with ``n`` bars."""

    def __init__(self, n: int) -> None:
        self.fig = fig = Figure(figsize=SIZE, dpi=DPI)
        FigureCanvasAgg(fig)
        self.ax = ax = fig.add_axes((0.03, 0.13, 0.94, 0.72))
        self.bars = ax.bar(range(n), [0] * n, color=BAR_COLOR, width=0.7)
        ax.set_xticks(range(n), [""] * n, fontsize=9, family=FONT)
        ax.tick_params(axis="x", length=0)
        ax.set_yticks([])
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        self.title = fig.suptitle("", fontsize=12, family=FONT)
        self.note = fig.text(0.5, 0.015, "", ha="center", va="bottom", fontsize=8,
                             color="#555555", family=FONT)
        self.values = [
            ax.text(i, 0, "", ha="center", va="bottom", fontsize=9, family=FONT)
            for i in range(n)
        ]
        self.n = n

    def render(
        self, labels: Sequence[str], values: Sequence[int], value_labels: Sequence[str],
        title: str, note: str, rtl: bool,
    ) -> bytes:
        top = max([*values, 1])
        for bar, text, value, label in zip(self.bars, self.values, values, value_labels,
                                           strict=True):
            bar.set_height(value)
            text.set_text(label)
            text.set_y(value + top * 0.02)
        self.ax.set_xticklabels([shape(label) for label in labels])
        self.title.set_text(shape(title))
        self.note.set_text(shape(note))
        self.ax.set_ylim(0, top * 1.2)
        if rtl:
            self.ax.set_xlim(self.n - 0.4, -0.6)
        else:
            self.ax.set_xlim(-0.6, self.n - 0.4)
        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
        return buffer.getvalue()


_local = threading.local()


def bar_chart(
    labels: Sequence[str],
    values: Sequence[int],
    *,
    title: str,
    note: str = "",
    value_labels: Sequence[str] | None = None,
    locale: str = "en",
) -> bytes:
    """A PNG bar chart: one bar per label, its value written above it."""
    if len(labels) != len(values) or not values:
        raise ValueError("one label per value, and at least one value")
    templates: dict[int, _Template] = getattr(_local, "templates", None) or {}
    _local.templates = templates
    template = templates.get(len(values))
    if template is None:
        template = templates[len(values)] = _Template(len(values))
    shown = list(value_labels) if value_labels is not None else [str(v) for v in values]
    return template.render(labels, values, shown, title, note, locale in RTL_LOCALES)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG, read from its IHDR chunk; ValueError if it is not one."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
