"""The book's GANs (Rashid, *Make Your First GAN With PyTorch*), written once for minigrad and PyTorch."""
