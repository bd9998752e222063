"""Writing stage: rendered files → the output folder, atomically and only when changed."""
