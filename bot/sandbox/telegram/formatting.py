"""Text formatting as the Bot API does it: HTML parse mode, UTF-16 offsets, trimming.

The HTML parser mirrors TDLib's ``parse_html`` (the code behind the Bot API's
``parse_mode=HTML``), including its error messages, with one deliberate difference
when ``strict=True`` (the default of the fake): a bare ``&`` that does not start a
character reference is refused, as the Bot API documentation demands ("All <, > and &
symbols that are not a part of a tag or an HTML entity must be replaced with the
corresponding HTML entities"), while the real server lets it through.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "FormattingError",
    "command_entity",
    "parse_html",
    "trim_formatted",
    "utf16_len",
]


class FormattingError(ValueError):
    """The text cannot be parsed; ``str(exc)`` is the part after "can't parse entities: "."""


SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "tg-time",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)

_SPECIAL = re.compile(r"[<&]")
_SPACES = frozenset(" \t\r\n\v\0")
_NAME_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
_ATTR_NAME_END = _SPACES | frozenset("=>/\"'")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_LINK_USER = re.compile(r"tg://user\?id=(\d+)$", re.IGNORECASE)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of entity offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8", "surrogatepass"))


def _decode_reference(src: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference at ``src[pos] == '&'`` like TDLib.

    Returns (character, end index) or None when the text stays literal.
    """
    n = len(src)
    end = pos + 1
    if end < n and src[end] == "#":
        end += 1
        code = 0
        if end < n and src[end] == "x":
            end += 1
            while end < n and src[end] in _HEX:
                code = code * 16 + int(src[end], 16)
                end += 1
        else:
            while end < n and src[end] in _DIGITS:
                code = code * 10 + ord(src[end]) - 48
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(code)
    else:
        while end < n and src[end] in _ALPHA:
            end += 1
        named = _NAMED.get(src[pos + 1 : end])
        if named is None:
            return None
        char = named
    if end < n and src[end] == ";":
        end += 1
    return char, end


def _check_url(url: str) -> str | None:
    url = url.strip()
    if not url or any(c in url for c in " \n\t"):
        return None
    lower = url.lower()
    if "://" not in lower and not lower.startswith(("mailto:", "tg:")):
        if "." not in url:
            return None
        url = "http://" + url
        lower = url.lower()
    if not lower.startswith(("http://", "https://", "tg://", "ton://", "mailto:", "tg:")):
        return None
    if lower.startswith(("http://", "https://")) and url.count("/") == 2:
        url += "/"
    return url


def parse_html(src: str, strict: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Bot API HTML into (plain text, entities). Raises FormattingError."""
    n = len(src)
    out: list[str] = []
    out_len = 0  # characters (code points) in out so far
    u16 = 0
    # open tags: [tag, argument, utf16 offset, output position, unix_time]
    stack: list[list[Any]] = []
    entities: list[dict[str, Any]] = []
    code_languages: dict[int, str] = {}
    decoded_surrogate = False

    def at(k: int) -> str:
        return src[k] if k < n else "\0"

    i = 0
    while i < n:
        m = _SPECIAL.search(src, i)
        if m is None:
            chunk = src[i:]
            out.append(chunk)
            out_len += len(chunk)
            u16 += utf16_len(chunk)
            break
        j = m.start()
        if j > i:
            chunk = src[i:j]
            out.append(chunk)
            out_len += len(chunk)
            u16 += utf16_len(chunk)
        i = j
        if src[i] == "&":
            ref = _decode_reference(src, i)
            if ref is not None:
                char, i = ref
                if 0xD800 <= ord(char) <= 0xDFFF:
                    decoded_surrogate = True
                out.append(char)
                out_len += 1
                u16 += 2 if ord(char) > 0xFFFF else 1
                continue
            if strict:
                raise FormattingError(
                    f'Unsupported HTML entity or unescaped "&" at byte offset '
                    f"{_byte_offset(src, i)}; use &amp; for a literal ampersand"
                )
            out.append("&")
            out_len += 1
            u16 += 1
            i += 1
            continue

        # a tag
        begin = i
        i += 1
        if at(i) != "/":
            while at(i) not in _SPACES and at(i) != ">":
                i += 1
            if i >= n:
                raise FormattingError(
                    f"Unclosed start tag at byte offset {_byte_offset(src, begin)}"
                )
            tag = src[begin + 1 : i].lower()
            if tag not in SUPPORTED_TAGS:
                raise FormattingError(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(src, begin)}'
                )
            argument = ""
            unix_time = 0
            while at(i) != ">":
                while i < n and at(i) in _SPACES:
                    i += 1
                if at(i) == ">":
                    break
                attr_begin = i
                while at(i) not in _ATTR_NAME_END:
                    i += 1
                attr_name = src[attr_begin:i]
                if not attr_name:
                    raise FormattingError(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{_byte_offset(src, begin)}"
                    )
                while i < n and at(i) in _SPACES:
                    i += 1
                if at(i) != "=":
                    if i >= n:
                        raise FormattingError(
                            f'Unclosed start tag "{tag}" at byte offset {_byte_offset(src, begin)}'
                        )
                    if tag == "blockquote" and attr_name == "expandable":
                        argument = "1"
                    continue
                i += 1
                while i < n and at(i) in _SPACES:
                    i += 1
                if i >= n:
                    raise FormattingError(
                        f'Unclosed start tag "{tag}" at byte offset {_byte_offset(src, begin)}'
                    )
                quote = at(i)
                if quote not in "'\"":
                    token_begin = i
                    while at(i) in _NAME_TOKEN:
                        i += 1
                    value = src[token_begin:i].lower()
                    if at(i) not in _SPACES and at(i) != ">":
                        raise FormattingError(
                            "Unexpected end of name token at byte offset "
                            f"{_byte_offset(src, token_begin)}"
                        )
                else:
                    i += 1
                    parts: list[str] = []
                    while i < n and src[i] != quote:
                        if src[i] == "&":
                            ref = _decode_reference(src, i)
                            if ref is not None:
                                parts.append(ref[0])
                                i = ref[1]
                                continue
                        parts.append(src[i])
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = "".join(parts)
                if i >= n:
                    raise FormattingError(
                        f"Unclosed start tag at byte offset {_byte_offset(src, begin)}"
                    )
                if tag == "a" and attr_name == "href":
                    argument = value
                elif tag == "code" and attr_name == "class" and value.startswith("language-"):
                    argument = value[9:]
                elif tag == "span" and attr_name == "class" and value.startswith("tg-"):
                    argument = value[3:]
                elif (tag == "tg-emoji" and attr_name == "emoji-id") or (
                    tag == "tg-time" and attr_name == "format"
                ):
                    argument = value
                elif tag == "tg-time" and attr_name == "unix":
                    mm = re.match(r"-?\d+", value)
                    unix_time = int(mm.group()) if mm else 0
                elif tag == "blockquote" and attr_name == "expandable":
                    argument = "1"
            if tag == "span" and argument != "spoiler":
                raise FormattingError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(src, begin)}"
                )
            stack.append([tag, argument, u16, out_len, unix_time])
            i += 1  # skip '>'
            continue

        # an end tag
        if not stack:
            raise FormattingError(f"Unexpected end tag at byte offset {_byte_offset(src, begin)}")
        while at(i) not in _SPACES and at(i) != ">":
            i += 1
        end_name = src[begin + 2 : i].lower()
        while i < n and at(i) in _SPACES:
            i += 1
        if at(i) != ">":
            raise FormattingError(f"Unclosed end tag at byte offset {_byte_offset(src, begin)}")
        tag, argument, offset, out_pos, unix_time = stack[-1]
        if end_name and end_name != tag:
            raise FormattingError(
                f"Unmatched end tag at byte offset {_byte_offset(src, begin)}, "
                f'expected "</{tag}>", found "</{end_name}>"'
            )
        i += 1
        if u16 > offset:
            length = u16 - offset
            prev = entities[-1] if entities else None
            same_span = prev is not None and prev["offset"] == offset and prev["length"] == length
            kind = {
                "i": "italic",
                "em": "italic",
                "b": "bold",
                "strong": "bold",
                "s": "strikethrough",
                "strike": "strikethrough",
                "del": "strikethrough",
                "u": "underline",
                "ins": "underline",
                "tg-spoiler": "spoiler",
                "span": "spoiler",
            }.get(tag)
            if kind is not None:
                entities.append({"type": kind, "offset": offset, "length": length})
            elif tag == "tg-emoji":
                if not argument.isdigit():
                    raise FormattingError("Invalid custom emoji identifier specified")
                entities.append(
                    {
                        "type": "custom_emoji",
                        "offset": offset,
                        "length": length,
                        "custom_emoji_id": argument,
                    }
                )
            elif tag == "tg-time":
                if unix_time > 0:
                    ent = {"type": "date_time", "offset": offset, "length": length}
                    ent["unix_time"] = unix_time
                    if argument:
                        ent["date_time_format"] = argument
                    entities.append(ent)
            elif tag == "a":
                url = argument or "".join(out)[out_pos:]
                mu = _LINK_USER.match(url)
                if mu:
                    entities.append(
                        {
                            "type": "text_mention",
                            "offset": offset,
                            "length": length,
                            "user": {"id": int(mu.group(1)), "is_bot": False, "first_name": ""},
                        }
                    )
                else:
                    checked = _check_url(url)
                    if checked is not None:
                        entities.append(
                            {
                                "type": "text_link",
                                "offset": offset,
                                "length": length,
                                "url": checked,
                            }
                        )
            elif tag == "pre":
                if (
                    same_span
                    and prev is not None
                    and prev["type"] == "code"
                    and code_languages.get(id(prev))
                ):
                    prev["type"] = "pre"
                    prev["language"] = code_languages.pop(id(prev))
                else:
                    entities.append({"type": "pre", "offset": offset, "length": length})
            elif tag == "code":
                if (
                    same_span
                    and prev is not None
                    and prev["type"] == "pre"
                    and "language" not in prev
                    and argument
                ):
                    prev["language"] = argument
                else:
                    ent = {"type": "code", "offset": offset, "length": length}
                    entities.append(ent)
                    if argument:
                        code_languages[id(ent)] = argument
            elif tag == "blockquote":
                entities.append(
                    {
                        "type": "expandable_blockquote" if argument else "blockquote",
                        "offset": offset,
                        "length": length,
                    }
                )
        stack.pop()

    if stack:
        raise FormattingError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    if decoded_surrogate:
        raise FormattingError(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


_TRIM = " \t\n\r\v\f\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u3000"


def trim_formatted(
    text: str, entities: list[dict[str, Any]] | None
) -> tuple[str, list[dict[str, Any]] | None]:
    """Strip leading/trailing whitespace like Telegram, moving/clipping the entities."""
    stripped = text.strip(_TRIM)
    if len(stripped) == len(text):
        return text, entities
    if not entities:
        return stripped, entities
    lead = text[: len(text) - len(text.lstrip(_TRIM))]
    shift = utf16_len(lead)
    total = utf16_len(stripped)
    fixed: list[dict[str, Any]] = []
    for ent in entities:
        start = max(ent["offset"] - shift, 0)
        end = min(ent["offset"] + ent["length"] - shift, total)
        if end > start:
            new = dict(ent)
            new["offset"] = start
            new["length"] = end - start
            fixed.append(new)
    return stripped, fixed


def command_entity(text: str) -> dict[str, Any] | None:
    """The bot_command entity Telegram adds to a message that starts with /command."""
    m = _COMMAND.match(text)
    if m is None:
        return None
    return {"type": "bot_command", "offset": 0, "length": utf16_len(m.group())}
