"""The long-running process: the scheduler that runs pairs on an interval, and the HTTP server
for health and metrics."""
