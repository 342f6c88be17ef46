"""notify: the daily notification to each teacher."""
