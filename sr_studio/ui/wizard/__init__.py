"""The fine-tuning wizard: its pages, plan, widgets, training child process and curves."""
