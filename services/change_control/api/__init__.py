"""The change control HTTP edge: thin routes over the use cases and the views."""
