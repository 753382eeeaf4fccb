# Binding for _deconv (filled in by its owner).
