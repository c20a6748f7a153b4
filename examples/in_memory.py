"""A client and a server talking through memory: the README example, runnable.

Run it with ``python examples/in_memory.py``. No network, no handshake: two
``Connection`` objects pass bytes to each other directly.
"""

from noio_ws import BinaryMessage, Close, Connection, Ping, Role, Signal, TextMessage


def main() -> None:
    client = Connection(Role.CLIENT)
    server = Connection(Role.SERVER)

    sent = [TextMessage("hello"), BinaryMessage(b"\x00\x01\x02"), Ping(b"are you there?")]
    wire = b"".join(client.send(event) for event in sent)
    wire += client.send(TextMessage("a fragmented ", final=False))
    wire += client.send(TextMessage("message"))
    print(f"client -> server: {len(wire)} bytes")

    server.receive_data(wire)
    replies = b""
    for event in server.events():
        print(f"server got {event}")
        if isinstance(event, TextMessage):
            replies += server.send(TextMessage(event.data.upper()))
        elif isinstance(event, BinaryMessage):
            replies += server.send(BinaryMessage(event.data[::-1]))
        elif isinstance(event, Ping):
            replies += server.send(event.response())

    client.receive_data(replies)
    for event in client.events():
        print(f"client got {event}")

    server.receive_data(client.send(Close(1000, "bye")))
    close = server.next_event()
    print(f"server got {close}")
    assert isinstance(close, Close)
    client.receive_data(server.send(close.response()))
    print(f"client got {client.next_event()}")
    assert client.next_event() is Signal.CLOSED
    assert server.next_event() is Signal.CLOSED
    print(f"both closed: client {client.state.name}, server {server.state.name}")


if __name__ == "__main__":
    main()
