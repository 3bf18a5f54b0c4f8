"""``codex-login completion bash|zsh|fish``: a completion script, generated from the
command table and each command's parser (so it never falls behind the commands)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import attrs

from codex_login.domain.fields_repr import FieldsRepr
from codex_login.entrypoints.cli.errors import EXIT_OK
from codex_login.entrypoints.cli.parser import HELP_SUMMARY, build
from codex_login.entrypoints.cli.shared import ACCOUNT_NAME
from codex_login.entrypoints.cli.table import COMMANDS

if TYPE_CHECKING:
    from codex_login.entrypoints.cli.io import IO
    from codex_login.entrypoints.cli.wiring import Factory

SHELLS = ("bash", "zsh", "fish")
ABOUT = """\
Print a shell completion script for codex-login on stdout: commands, their
options and the names of the stored logins (after `switch` and `--account`)
complete on Tab. Load it from your shell's start-up file, or save it where your
shell looks for completions."""
EPILOG = """\
examples:
  echo 'eval "$(codex-login completion bash)"' >> ~/.bashrc
  echo 'eval "$(codex-login completion zsh)"' >> ~/.zshrc
  codex-login completion fish > ~/.config/fish/completions/codex-login.fish
"""


# Why --codex-home is refused (dispatch) and left out of the help (parser).
NO_CODEX_HOME = "the completion script reads no login"


@attrs.frozen(repr=False)
class Options(FieldsRepr):
    shell: str


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")


def options(args: argparse.Namespace) -> Options:
    return Options(shell=args.shell)


CODEX_HOME = "--codex-home"
# What a completion script runs for a stored login's name (the store the command line
# would use: the environment's, or the --codex-home given before the command).
NAMES = "codex-login {home}accounts --names 2>/dev/null"


@attrs.frozen(repr=False)
class Grammar(FieldsRepr):
    """What the scripts complete: the global options, each command's options and
    positional choices, its summary; which options and commands take an account name."""

    global_: Options_
    table: dict[str, Options_]
    summaries: dict[str, str]
    choices: dict[str, list[str]]
    account_options: list[str]
    account_commands: list[str]


def run(options: Options, io: IO, factory: Factory) -> int:
    del factory
    script = {"bash": _bash, "zsh": _zsh, "fish": _fish}[options.shell]
    io.emit(script(grammar()))
    return EXIT_OK


def grammar() -> Grammar:
    parser, commands = build()
    summaries = {name: command.summary for name, command in COMMANDS.items()}
    summaries["help"] = HELP_SUMMARY
    return Grammar(
        global_=_options_of(parser),
        table={name: _options_of(command) for name, command in commands.items()},
        summaries=summaries,
        choices={name: _choices_of(command) for name, command in commands.items()},
        account_options=sorted(
            {
                spelling
                for command in commands.values()
                for action in command._actions  # argparse lists them nowhere public
                if _takes_account(action)
                for spelling in action.option_strings
            }
        ),
        account_commands=[
            name
            for name, command in commands.items()
            if any(_takes_account(a) and not a.option_strings for a in command._actions)
        ],
    )


def _takes_account(action: argparse.Action) -> bool:
    return str(action.metavar or "").split("|")[0] == ACCOUNT_NAME


# Each option: its spellings, its help, whether it takes a value.
Options_ = list[tuple[list[str], str, bool]]


def _options_of(parser: argparse.ArgumentParser) -> Options_:
    return [
        (list(action.option_strings), action.help or "", action.nargs != 0)
        for action in parser._actions  # argparse lists them nowhere public
        if action.option_strings and action.help != argparse.SUPPRESS
    ]


def _choices_of(parser: argparse.ArgumentParser) -> list[str]:
    """The values a command's positional argument takes, when it names them."""
    return [
        str(choice)
        for action in parser._actions  # argparse lists them nowhere public
        if not action.option_strings and action.choices
        for choice in action.choices
    ]


def _words(options: Options_) -> str:
    return " ".join(spelling for spellings, _, _ in options for spelling in spellings)


def _bash(grammar: Grammar) -> str:
    cases = "".join(
        f'        {name}) words="{" ".join(grammar.choices[name] + [_words(options)])}" ;;\n'
        for name, options in grammar.table.items()
    )
    # Before the command only the global options come; the value of one is no command.
    # --codex-home's is kept, before or after the command, for the names' store.
    valued = "|".join(
        spelling
        for spellings, _, takes_value in grammar.global_
        if takes_value
        for spelling in spellings
        if spelling != CODEX_HOME
    )
    skipped = f"\n            {valued}) skip=1 ;;" if valued else ""
    # ${home[@]+...}: an empty array is "unbound" under `set -u` in bash before 4.4.
    names = NAMES.format(home='${home[@]+"${home[@]}"} ')
    return f"""\
# codex-login completion for bash (codex-login completion bash)
_codex_login() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local command="" skip="" word words home=() given=0
    for word in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        if [[ -n "$skip" ]]; then
            # --codex-home=DIR arrives as three words where "=" breaks words
            [[ "$word" == "=" ]] && continue
            [[ "$skip" == home ]] && _codex_login_home "$word"
            skip=""; continue
        fi
        case "$word" in
            {CODEX_HOME}) skip=home ;;
            {CODEX_HOME}=*) _codex_login_home "${{word#{CODEX_HOME}=}}" ;;{skipped}
            -*) ;;
            *) if [[ -z "$command" ]]; then command="$word"; else given=$((given + 1)); fi ;;
        esac
    done
    case "$command" in
        "") words="{" ".join(grammar.summaries)} {_words(grammar.global_)}" ;;
{cases}        *) words="" ;;
    esac
    # A stored login's name: the value of {"/".join(grammar.account_options)}, the argument of \
{"/".join(grammar.account_commands)}.
    if [[ -n "$command" ]]; then
        case "$prev" in
            {"|".join(grammar.account_options)}) words="$({names})" ;;
            *) case "$command" in
                   {"|".join(grammar.account_commands)})
                       [[ "$cur" == -* || $given -gt 0 ]] || words="$({names})" ;;
               esac ;;
        esac
    fi
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
# The directory as the command would get it: quotes removed, a leading ~ expanded.
_codex_login_home() {{
    local dir="$1"
    dir="${{dir#[\\"\\']}}"; dir="${{dir%[\\"\\']}}"
    [[ "$dir" == "~" || "$dir" == "~/"* ]] && dir="$HOME${{dir#\\~}}"
    home=(--codex-home "$dir")
}}
complete -o default -F _codex_login codex-login
"""


def _zsh(grammar: Grammar) -> str:
    bash = _bash(grammar).split("\n", 1)[1]
    return f"""\
# codex-login completion for zsh (codex-login completion zsh), through bashcompinit
autoload -U +X bashcompinit && bashcompinit
{bash}"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(grammar: Grammar) -> str:
    lines = ["# codex-login completion for fish (codex-login completion fish)"]
    lines.append("complete -c codex-login -f")
    names = _fish_quote(f"({NAMES.format(home='')})")
    for name, summary in grammar.summaries.items():
        lines.append(
            f"complete -c codex-login -n __fish_use_subcommand -a {name} -d {_fish_quote(summary)}"
        )
    for name, values in grammar.choices.items():
        if values:
            lines.append(
                f"complete -c codex-login -n '__fish_seen_subcommand_from {name}' "
                f"-a {_fish_quote(' '.join(values))}"
            )
    for name in grammar.account_commands:
        lines.append(f"complete -c codex-login -n '__fish_seen_subcommand_from {name}' -a {names}")
    for condition, options in [("__fish_use_subcommand", grammar.global_)] + [
        (f"'__fish_seen_subcommand_from {name}'", options)
        for name, options in grammar.table.items()
    ]:
        for spellings, help_, takes_value in options:
            flags = " ".join(
                f"-l {s[2:]}" if s.startswith("--") else f"-s {s[1:]}" for s in spellings
            )
            value = " -r" if takes_value else ""
            if set(spellings) & set(grammar.account_options):
                value = f" -x -a {names}"
            lines.append(
                f"complete -c codex-login -n {condition} {flags}{value} -d {_fish_quote(help_)}"
            )
    return "\n".join(lines) + "\n"
