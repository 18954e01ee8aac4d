"""What a browser submits for a form on a page: every named control's value, as the HTML standard's
form submission does it (checked boxes only, a select's selected option or its first, a textarea's text
with its line breaks as CR LF), controls outside the form joined by `form="..."` included."""
from __future__ import annotations

from html.parser import HTMLParser

_SKIPPED_INPUTS = {"submit", "button", "reset", "image", "file"}


class _FormReader(HTMLParser):
    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._text: list[str] = []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._option: dict | None = None

    def _mine(self, attrs: dict) -> bool:
        return attrs.get("form") == self.form_id if "form" in attrs else self.inside

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == self.form_id:
            self.inside = True
        elif tag == "input" and self._mine(attrs) and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.fields.append((attrs["name"], attrs.get("value", "on")))
            elif kind not in _SKIPPED_INPUTS:  # a text input's value loses its line breaks
                self.fields.append((attrs["name"], attrs.get("value", "").replace("\r", "").replace("\n", "")))
        elif tag == "textarea" and self._mine(attrs) and attrs.get("name"):
            self._textarea, self._text = attrs["name"], []
        elif tag == "select" and self._mine(attrs) and attrs.get("name"):
            self._select, self._options = attrs["name"], []
        elif tag == "option" and self._select is not None:
            self._option = {"value": attrs.get("value"), "selected": "selected" in attrs, "text": []}

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)
        if self._option is not None:
            self._option["text"].append(data)

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "textarea" and self._textarea is not None:
            text = "".join(self._text)
            text = text[1:] if text.startswith("\n") else text  # the parser drops a leading newline
            self.fields.append((self._textarea, text.replace("\r\n", "\n").replace("\n", "\r\n")))
            self._textarea = None
        elif tag == "option" and self._option is not None:
            option = self._option
            value = option["value"] if option["value"] is not None else "".join(option["text"]).strip()
            self._options.append((value, option["selected"]))
            self._option = None
        elif tag == "select" and self._select is not None:
            chosen = [value for value, selected in self._options if selected] or [v for v, _ in self._options[:1]]
            if chosen:
                self.fields.append((self._select, chosen[-1]))
            self._select = None


def form_fields(html: str, form_id: str) -> dict[str, list[str]]:
    """{name: [values]} as the browser would post the form `form_id` of `html`."""
    reader = _FormReader(form_id)
    reader.feed(html)
    submitted: dict[str, list[str]] = {}
    for name, value in reader.fields:
        submitted.setdefault(name, []).append(value)
    return submitted
