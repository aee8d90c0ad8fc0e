"""What a person asks of a running sync: explain a deal's fields, resolve a conflict, probe a
portal's properties against a mapping."""
