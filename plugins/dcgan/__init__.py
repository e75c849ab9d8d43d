"""DCGAN (Radford et al. 2016) in the exact shape of the TensorFlow DCGAN tutorial on MNIST."""
