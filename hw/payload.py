"""Payload layouts as plain data: where each field of a stream payload sits.

The generated Verilog packs a struct payload into one vector per stream,
first field in the low bits; the manifest records every leaf's offset, width
and signedness so that benches and host drivers (which never import the
gateware) can pack and unpack it.
"""
from amaranth.hdl import Shape
from amaranth.lib import data


def payload_fields(shape):
    """``{name: (offset, width, signed)}`` of the leaves of an Amaranth payload shape.

    Struct fields are named by their names, array elements by ``[i]``, nested
    ones joined with ``.`` (``"acc.lanes[2]"``). A plain shape (``signed(8)``)
    has one leaf named ``""``: its payload is an int, not a dict. The result is
    JSON-able, so it can reach a cocotb test through ``params``.
    """
    fields = {}

    def walk(sh, name, offset):
        if isinstance(sh, data.ArrayLayout):
            for i in range(sh.length):
                walk(sh.elem_shape, f"{name}[{i}]", offset + i * Shape.cast(sh.elem_shape).width)
        elif isinstance(sh, data.Layout):
            for key, field in sh:
                walk(field.shape, f"{name}.{key}" if name else str(key), offset + field.offset)
        else:
            s = Shape.cast(sh)
            fields[name] = (offset, s.width, s.signed)

    walk(shape, "", 0)
    return fields
