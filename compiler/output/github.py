"""GitHub Actions workflow commands (`::error file=F,title=T::message`), escaped once here.

GitHub's rules: in the message, `%`, CR and LF are escaped; in a property (file=, title=, ...)
also `:` and `,`, which would otherwise end the property (schema paths contain ": ").
"""
from __future__ import annotations


def escape_data(text: str) -> str:
    """Escape an annotation message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape an annotation property value."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, *, file: str | None = None, title: str | None = None) -> str:
    """One workflow command line: level is 'error', 'warning' or 'notice'."""
    props = [f"{name}={escape_property(value)}" for name, value in (("file", file), ("title", title)) if value]
    return f"::{level}{' ' + ','.join(props) if props else ''}::{escape_data(message)}"
