"""Built-in normalizers (being written)."""

from zsk.registry import hookimpl


@hookimpl
def zsk_register_components(register):
    pass
