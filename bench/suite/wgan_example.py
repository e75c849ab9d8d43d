"""examples/ganrun-wgan's ``wgan_gp`` method for bench/health_suite.py without installing the
package: its plugin object's hooks, as module functions that ``GANRUN_PLUGINS`` can load
(the example's folder must be on ``PYTHONPATH``)."""
from ganrun_wgan.plugin import plugin

globals().update({name: getattr(plugin, name) for name in dir(plugin)
                  if name.startswith("ganrun_")})
