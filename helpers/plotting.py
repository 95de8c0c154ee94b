"""One figure style for the whole book."""

from __future__ import annotations

import matplotlib as mpl

# Colour-blind-safe colours (Okabe & Ito), one per model where models are compared.
COLORS: dict[str, str] = {
    "rnn": "#D55E00",
    "lstm": "#0072B2",
    "gru": "#009E73",
    "grey": "#7F7F7F",
    "accent": "#CC79A7",
}


def use_book_style() -> None:
    """Readable, uncluttered figures with the same look in every chapter."""
    mpl.rcParams.update(
        {
            "figure.figsize": (7.0, 3.6),
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "font.size": 11,
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "legend.frameon": False,
            "axes.prop_cycle": mpl.cycler(color=list(COLORS.values())),
            "svg.hashsalt": "book",
        }
    )
