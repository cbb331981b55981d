"""HTTP: health and metrics, admin JSON API, pages, webhooks (aiohttp)."""
