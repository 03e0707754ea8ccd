"""Built-in trunks (being written)."""

from zsk.registry import hookimpl


@hookimpl
def zsk_register_components(register):
    pass
