"""Options declared once: a config dataclass's fields carry their help and choices (`option`), and the typer
options of a command are generated from them (`with_options`), so a CLI never restates a field, its default
or its choices. Torch-free: `--help` needs no torch.

    @dataclass(frozen=True)
    class FitConfig:
        arch: str = option("dense", "Trunk/decoder family.", choices=ARCHS)

    @app.command()
    @with_options(FitConfig)
    def fit(out: Path = typer.Option(...), cfg: FitConfig = None, quiet: bool = False): ...

`fit --arch conv` then calls `fit(out=..., cfg=FitConfig(arch="conv", ...), quiet=False)`; `--help` shows
every field with its help and `[dense|conv|...]`; `check_choices(cfg)` refuses a value outside the choices.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssvae_train.errors import UserError


def option(default: Any, help: str, choices: Sequence[str] | None = None,
           aliases: Mapping[str, str] | None = None, metavar: str | None = None) -> Any:
    """A dataclass field that is also a command-line option: its default, help and (optional) choices;
    `aliases` are old names still accepted for a choice (they are not shown); `metavar` shows the values an
    option without fixed choices takes."""
    return field(default=default, metadata={"help": help, "choices": tuple(choices) if choices else None,
                                            "aliases": dict(aliases or {}), "metavar": metavar})


@dataclass(frozen=True)
class Option:
    """One field of a config as a command-line option."""

    name: str
    type: Any
    default: Any
    help: str
    choices: tuple[str, ...] | None
    aliases: dict[str, str]
    shown: str | None = None  # the metavar of an option without fixed choices

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def metavar(self) -> str | None:
        return "[" + "|".join(self.choices) + "]" if self.choices else self.shown

    def check(self, value: Any) -> None:
        """Refuse a value outside the choices (an alias of a choice is accepted; None is no value)."""
        if self.choices and value is not None and value not in self.choices and value not in self.aliases:
            raise UserError(f"{self.flag} {value!r}: choose one of {', '.join(self.choices)}")


def options_of(cls: type, names: Sequence[str] | None = None) -> list[Option]:
    """The fields of `cls` declared with `option`, in order (or those named in `names`, in their order)."""
    hints = typing.get_type_hints(cls)
    found = {f.name: Option(f.name, hints[f.name], f.default, f.metadata["help"], f.metadata["choices"],
                            f.metadata["aliases"], f.metadata.get("metavar"))
             for f in dataclasses.fields(cls) if "help" in f.metadata}
    return list(found.values()) if names is None else [found[n] for n in names]


def check_choices(cfg: Any) -> None:
    """`Option.check` on every option field of a config instance."""
    for o in options_of(type(cfg)):
        o.check(getattr(cfg, o.name))


def with_options(cls: type, names: Sequence[str] | None = None, param: str = "cfg") -> Callable:
    """Decorate a typer command whose parameter `param` is a `cls`: the command gets one typer option per
    option field of `cls` (or of those in `names`) in that parameter's place, and is called with them
    gathered into one `cls` instance (fields not offered keep their defaults)."""
    import typer

    opts = options_of(cls, names)

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn, eval_str=True)
        params: list[inspect.Parameter] = []
        for p in sig.parameters.values():
            if p.name != param:
                params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))
                continue
            params += [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY, annotation=o.type,
                                         default=typer.Option(o.default, help=o.help, metavar=o.metavar))
                       for o in opts]

        @functools.wraps(fn)
        def command(**kwargs: Any) -> Any:
            values = {o.name: kwargs.pop(o.name) for o in opts}
            return fn(**{param: cls(**values)}, **kwargs)

        command.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        del command.__wrapped__  # typer reads the signature above, not the function's own
        return command

    return decorate
