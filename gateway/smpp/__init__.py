"""SMPP 3.4 protocol layer: codec, sans-I/O session, asyncio ESME client."""
