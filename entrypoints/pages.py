"""The pages the callback server shows in the browser: self-contained, no JavaScript."""

from __future__ import annotations

from html import escape

_STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #0d0d0d;
       background: #fff; display: flex; justify-content: center; margin: 0; }
main { max-width: 36rem; margin-top: 15vh; padding: 0 1.5rem; text-align: center; }
h1 { font-weight: 400; font-size: 2rem; }
p { color: #5d5d5d; line-height: 1.5; }
.box { border: 1px solid rgba(13,13,13,.1); border-radius: 16px; padding: 1rem 1.25rem;
       box-shadow: 0 4px 16px rgba(0,0,0,.05); text-align: left; }
a.button { display: inline-block; background: #0d0d0d; color: #fff; border-radius: 999px;
           padding: .5rem 1rem; text-decoration: none; }
code { background: #f3f3f3; padding: .1rem .3rem; border-radius: 4px; }
"""


def _page(title: str, body: str, head: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer">{head}'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def success_page(*, email: str | None, setup_url: str | None) -> str:
    who = f" as {escape(email)}" if email else ""
    if setup_url is None:
        return _page(
            "Signed in to Codex",
            f"<h1>Signed in to Codex</h1><p>You are signed in{who}. "
            "You may now close this page and return to your terminal.</p>",
        )
    link = escape(setup_url, quote=True)
    return _page(
        "Signed in to Codex",
        f"<h1>Signed in to Codex</h1><p>You are signed in{who}.</p>"
        '<div class="box"><p><strong>Finish setting up your API organization</strong><br>'
        "Add a payment method to use your organization. You will be taken there in 3 seconds.</p>"
        f'<p><a class="button" href="{link}">Continue to setup</a></p></div>',
        head=f'<meta http-equiv="refresh" content="3;url={link}">',
    )


def error_page(title: str, message: str, *, retry: bool = True) -> str:
    hint = "<p>Close this page and run <code>codex-login login</code> again.</p>" if retry else ""
    return _page(
        title,
        f"<h1>{escape(title)}</h1><p>{escape(message)}</p>{hint}",
    )


def notice_page(title: str, message: str) -> str:
    return _page(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>")
