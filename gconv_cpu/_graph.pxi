# Binding for _graph (filled in by its owner).
