# Binding for _ops (filled in by its owner).
