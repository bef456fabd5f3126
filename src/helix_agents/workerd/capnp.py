"""A minimal Cap'n Proto writer: just enough of the wire format to encode workerd's module
bundle (a struct with one list of structs holding text and data), so that building the
Pyodide bundle needs no ``capnp`` tool from apt.

The encoding follows the Cap'n Proto specification: one segment, a root struct pointer, an
inline-composite list of structs, byte lists for ``Text`` (NUL-terminated) and ``Data``.
Everything is laid out in one forward pass, so every pointer's offset is positive.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

__all__ = ["StructValue", "encode_message"]

WORD = 8


@dataclass
class StructValue:
    """One struct: its data section as 16-bit slots (enums, union discriminants), and its
    pointer section as byte strings (a ``str`` is encoded as Text, ``bytes`` as Data),
    lists of structs, or None for a null pointer."""

    data_words: int
    pointer_count: int
    uint16: dict[int, int] = field(default_factory=dict)
    pointers: dict[int, str | bytes | list[StructValue] | None] = field(default_factory=dict)


class _Segment:
    def __init__(self) -> None:
        self.buf = bytearray()

    def allocate(self, words: int) -> int:
        at = len(self.buf) // WORD
        self.buf.extend(b"\0" * (words * WORD))
        return at

    def put_word(self, at: int, value: int) -> None:
        struct.pack_into("<Q", self.buf, at * WORD, value)


def _offset_bits(pointer_at: int, target_at: int) -> int:
    # The offset counts words from the end of the pointer to the target, signed 30 bits.
    offset = target_at - (pointer_at + 1)
    return (offset & 0x3FFFFFFF) << 2


def _struct_pointer(pointer_at: int, target_at: int, data_words: int, pointers: int) -> int:
    return _offset_bits(pointer_at, target_at) | (data_words << 32) | (pointers << 48)


def _list_pointer(pointer_at: int, target_at: int, element_size: int, count: int) -> int:
    return 1 | _offset_bits(pointer_at, target_at) | (element_size << 32) | (count << 35)


_BYTE_ELEMENTS = 2
_COMPOSITE_ELEMENTS = 7


def _write_struct_body(seg: _Segment, at: int, value: StructValue) -> None:
    for slot, number in value.uint16.items():
        if not 0 <= slot < value.data_words * 4:
            raise ValueError(f"16-bit slot {slot} is outside a {value.data_words}-word section")
        struct.pack_into("<H", seg.buf, at * WORD + slot * 2, number)
    for index, target in value.pointers.items():
        if not 0 <= index < value.pointer_count:
            raise ValueError(f"pointer {index} is outside a {value.pointer_count}-pointer section")
        _write_pointer(seg, at + value.data_words + index, target)


def _write_pointer(
    seg: _Segment, pointer_at: int, target: str | bytes | list[StructValue] | None
) -> None:
    if target is None:
        return
    if isinstance(target, str | bytes):
        raw = target.encode() + b"\0" if isinstance(target, str) else target
        words = (len(raw) + WORD - 1) // WORD
        at = seg.allocate(words)
        seg.buf[at * WORD : at * WORD + len(raw)] = raw
        seg.put_word(pointer_at, _list_pointer(pointer_at, at, _BYTE_ELEMENTS, len(raw)))
        return
    if not target:
        # An empty struct list still has its tag word (no elements: a zero layout will do).
        tag_at = seg.allocate(1)
        seg.put_word(pointer_at, _list_pointer(pointer_at, tag_at, _COMPOSITE_ELEMENTS, 0))
        return
    data_words, pointer_count = target[0].data_words, target[0].pointer_count
    if any((v.data_words, v.pointer_count) != (data_words, pointer_count) for v in target):
        raise ValueError("every element of a struct list must have the same layout")
    size = data_words + pointer_count
    tag_at = seg.allocate(1 + size * len(target))
    seg.put_word(
        pointer_at, _list_pointer(pointer_at, tag_at, _COMPOSITE_ELEMENTS, size * len(target))
    )
    # The tag word is shaped like a struct pointer whose offset holds the element count.
    seg.put_word(tag_at, (len(target) << 2) | (data_words << 32) | (pointer_count << 48))
    for i, element in enumerate(target):
        _write_struct_body(seg, tag_at + 1 + i * size, element)


def encode_message(root: StructValue) -> bytes:
    """The single-segment message whose root is ``root``, with its segment table."""
    seg = _Segment()
    seg.allocate(1)  # the root pointer
    root_at = seg.allocate(root.data_words + root.pointer_count)
    seg.put_word(0, _struct_pointer(0, root_at, root.data_words, root.pointer_count))
    _write_struct_body(seg, root_at, root)
    words = len(seg.buf) // WORD
    # Segment table: (segment count - 1), then each segment's size in words, padded to a word.
    return struct.pack("<II", 0, words) + bytes(seg.buf)
