"""User text shown through Streamlit's Markdown (``st.markdown``, ``st.caption``, ``st.error``, widget
labels...) as the text it is: :func:`md` escapes it, so a comment or a park name such as
``![x](http://evil/x.png)`` is shown literally and makes no viewer's browser fetch anything.

Every page passes user-supplied text (scenario names, version comments, authors, park names and
ids, file names, error messages that quote them) through :func:`md`; text the app writes itself
needs no escaping.
"""

from __future__ import annotations

import re

# What Markdown (CommonMark + GitHub extensions) or Streamlit's own syntax gives a meaning to
# anywhere in a line: links and images need "[", autolinks and HTML "<", emphasis * _ ~, code `,
# formulas $, tables |, colours ":red[...]" "[" again. Escaped with a backslash, each shows as itself.
# An underscore between two letters or digits (``file_name``) emphasises nothing and stays as is.
_SPECIAL = re.compile(r"([\\`*\[\]<>$~|]|(?<!\w)_|_(?!\w))")
# What means something only at the start of a line: headings, quotes, lists, rules.
_LINE_START = re.compile(r"^(\s*)(\d*)([#>+\-=.)])", re.MULTILINE)


def md(text: object) -> str:
    """``text`` escaped for Markdown: it renders as exactly the characters it holds (no link,
    image, emphasis, heading, list, HTML, colour or formula); line breaks are kept as Markdown
    line breaks. None and missing values show as "—"."""
    if text is None or (isinstance(text, float) and text != text):
        return "—"
    escaped = _SPECIAL.sub(r"\\\1", str(text).replace("\r\n", "\n").replace("\r", "\n"))
    escaped = _LINE_START.sub(r"\1\2\\\3", escaped)
    return escaped.replace("\n", "  \n")
