"""Privacy rights: export everything held about a number, erase it, and the retention job."""
