"""legacy: the old customer master. It speaks its own line protocol over raw TCP, with its own
model: upper-case names "LAST, FIRST", dates YYYYMMDD, balances in signed cents, one-letter
status codes. Only the ACL talks to it; the harness faults the edge between them.

    HOST=127.0.0.1 PORT=8202 python legacy.py

Protocol: the client sends one line, ``INQ CUST <8 digits>\\n``; the server answers one record
line and closes the connection (the end of the answer is the end of the connection, as with
many old systems, so a cut connection looks just like a short answer)::

    RC=00;CUSTNO=00000123;NM=SMITH, JOHN;OPNDT=20190314;BALCTS=+000123456;STATCD=A;CCY=USD;END
    RC=04;CUSTNO=00009999;END          (no such customer)
    RC=08;END                          (a request it cannot read)

Customers 1..5000 exist; their data is a pure function of the number, so answers can be compared.
"""
from __future__ import annotations

import asyncio
import os

LAST = ["SMITH", "O'BRIEN", "GARCIA", "NGUYEN", "MUELLER", "ROSSI", "KOWALSKI", "TANAKA", "SILVA", "DUBOIS-MARTIN"]
FIRST = ["JOHN", "MARIA", "WEI", "FATIMA", "OLU", "ANNA", "LUCA", "PRIYA", "JOSE", "KIM"]
STATUS = "AAAAAASC"  # mostly active, some suspended, a few closed
CUSTOMERS = 5000


def record(number: int) -> str:
    if not 1 <= number <= CUSTOMERS:
        return f"RC=04;CUSTNO={number:08d};END"
    year, month, day = 1995 + number % 28, 1 + number % 12, 1 + number % 28
    cents = (number * 7919) % 2_000_000 - 250_000  # some customers are overdrawn
    return (f"RC=00;CUSTNO={number:08d};NM={LAST[number % len(LAST)]}, {FIRST[(number // 10) % len(FIRST)]};"
            f"OPNDT={year:04d}{month:02d}{day:02d};BALCTS={cents:+010d};STATCD={STATUS[number % len(STATUS)]};"
            f"CCY=USD;END")


def answer(request_line: bytes) -> str:
    parts = request_line.decode("ascii", errors="replace").split()
    if len(parts) != 3 or parts[:2] != ["INQ", "CUST"] or not (parts[2].isdigit() and len(parts[2]) == 8):
        return "RC=08;END"
    return record(int(parts[2]))


async def serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        line = await asyncio.wait_for(reader.readline(), timeout=10)
        if line:  # an empty read is a health probe (connect and close)
            writer.write(answer(line).encode("ascii") + b"\n")
            await writer.drain()
    except (asyncio.TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def main() -> None:
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8202"))
    server = await asyncio.start_server(serve_one, host, port, backlog=256)
    print(f"legacy customer master listening on {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
