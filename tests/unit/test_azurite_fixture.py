"""The Azurite fixture serves tables and queues on the ports it reports."""

from __future__ import annotations

import uuid

from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient


def test_azurite_serves_tables_and_queues(azurite_connection_string: str) -> None:
    name = "t" + uuid.uuid4().hex[:12]
    tables = TableServiceClient.from_connection_string(azurite_connection_string)
    table = tables.create_table(name)
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "v": 1})
    assert table.get_entity("p", "r")["v"] == 1
    queues = QueueServiceClient.from_connection_string(azurite_connection_string)
    queue = queues.create_queue("q" + uuid.uuid4().hex[:12])
    queue.send_message("hello")
    assert [m.content for m in queue.receive_messages()] == ["hello"]
