"""Built-in heads (being written)."""

from zsk.registry import hookimpl


@hookimpl
def zsk_register_components(register):
    pass
