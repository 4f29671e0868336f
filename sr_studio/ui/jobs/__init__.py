"""Running core jobs off the GUI thread and showing their state."""
