"""Find every Payload in a protobuf message (a history, an event): the test's eye on what
Temporal stores."""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload


def payloads_in(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """(dotted field path, payload) for every Payload inside `message`, maps and lists too."""
    if isinstance(message, Payload):
        yield path, message
        return
    for field, value in message.ListFields():
        kind = field.message_type
        if field.type != FieldDescriptor.TYPE_MESSAGE or kind is None:
            continue
        where = f"{path}.{field.name}" if path else field.name
        if kind.GetOptions().map_entry:
            items = [(f"{where}[{k}]", v) for k, v in value.items()]
            if kind.fields_by_name["value"].type != FieldDescriptor.TYPE_MESSAGE:
                continue
        elif field.is_repeated:
            items = [(f"{where}[{i}]", v) for i, v in enumerate(value)]
        else:
            items = [(where, value)]
        for item_path, item in items:
            yield from payloads_in(item, item_path)
