"""Training TrackGo on a studio's own footage.

``prepare`` builds a dataset folder (frames + tracks + first-frame masks + manifest) from clips,
``dataset`` reads it back for training, ``losses`` holds L_mse / L_attn (Eq. 7-9), ``noise`` the
SVD/EDM noise schedule and preconditioning, ``train`` the accelerate training loop.
Nothing is imported here so ``trackgo-prepare --help`` stays light (no torch).
"""
