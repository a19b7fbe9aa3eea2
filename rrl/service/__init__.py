"""The repair service: ``rrl serve`` (FastAPI) over the plan database, with its web page."""
