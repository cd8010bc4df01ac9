"""Flask's JSON provider on msgspec: request bodies and every jsonify'd answer, 10 to 16 times cheaper.

`TASKRAFT_HTTP_JSON=stdlib` keeps Flask's own provider (docs/performance.md, "HTTP path: gunicorn, JSON,
switch interval"). Answers are the same JSON as Flask's: compact, fields in the order they are built, a
final newline; non-ASCII text is sent as UTF-8 instead of \\u escapes. What msgspec refuses or would
read differently is handed to the standard library, so no input changes meaning:
- decoding: anything msgspec rejects (malformed input, NaN, a lone surrogate, 1e400) is parsed again by
  `json.loads`, which either accepts it as before or raises the error Flask's `get_json` expects;
  nesting deeper than the interpreter's recursion limit raises RecursionError in both, as before;
- encoding: what msgspec cannot encode (a lone surrogate) goes through Flask's own `dumps`.
Integers of any size stay integers (orjson reads those beyond 64 bits as floats, so it was not used).
"""

from __future__ import annotations

import typing as t

import msgspec
from flask import Flask
from flask.json.provider import DefaultJSONProvider

if t.TYPE_CHECKING:
    from werkzeug.sansio.response import Response

_FALLBACK_ERRORS = (msgspec.EncodeError, UnicodeEncodeError, TypeError, OverflowError)


class MsgspecJSONProvider(DefaultJSONProvider):
    sort_keys = False

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        # enc_hook: what msgspec has no encoding of goes through Flask's (dates as HTTP dates, __html__).
        self._encoder = msgspec.json.Encoder(enc_hook=DefaultJSONProvider.default)
        self._decoder = msgspec.json.Decoder()

    def _encode(self, obj: t.Any) -> bytes | None:
        try:
            return self._encoder.encode(obj)
        except _FALLBACK_ERRORS:
            return None

    def dumps(self, obj: t.Any, **kwargs: t.Any) -> str:
        if not kwargs:
            body = self._encode(obj)
            if body is not None:
                return body.decode()
        return super().dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: t.Any) -> t.Any:
        if not kwargs:
            try:
                return self._decoder.decode(s)
            except msgspec.DecodeError:
                pass  # parsed again below: the standard library accepts it, or raises its own error
        return super().loads(s, **kwargs)

    def response(self, *args: t.Any, **kwargs: t.Any) -> Response:
        obj = self._prepare_response_obj(args, kwargs)
        pretty = (self.compact is None and self._app.debug) or self.compact is False
        body = None if pretty else self._encode(obj)
        if body is None:
            return super().response(obj)
        app = t.cast(Flask, self._app)  # typed as the sans-I/O App, whose response class takes no body
        return app.response_class(body + b"\n", mimetype=self.mimetype)


def install(app: Flask, impl: str) -> None:
    """Use `impl`'s JSON provider ("msgspec" or "stdlib") for `app`'s requests and answers."""
    if impl == "msgspec":
        app.json = MsgspecJSONProvider(app)
    elif isinstance(app.json, DefaultJSONProvider):  # Flask's default: keep fields in the order they are built
        app.json.sort_keys = False
