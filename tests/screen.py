"""What a person reads on screen, for tests that look at widgets."""

from __future__ import annotations

from textual.geometry import Region
from textual.widget import Widget


def visible(widget: Widget) -> str:
    """The text the widget puts on screen now, line by line (what a person would read), borders left out."""
    width, height = widget.outer_size
    strips = widget.render_lines(Region(0, 0, width, height))
    lines = ["".join(segment.text for segment in strip).strip() for strip in strips]
    return "\n".join(line for line in lines if line.strip("─│▏┌┐└┘ "))
