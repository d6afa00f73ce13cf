# The memory baseline for the desktop app: WebKitGTK alone, one window the
# size of Slipway's showing a line of HTML, in the same Xvfb and D-Bus
# session as the app. The desktop test measures its process tree next to
# Slipway's, so BENCHMARKS.md can say what Slipway adds to what any
# WebKitGTK window costs on the machine.
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("WebKit2", "4.1")
from gi.repository import Gtk, WebKit2  # noqa: E402

window = Gtk.Window(title="bare WebKitGTK")
window.set_default_size(1100, 720)
view = WebKit2.WebView()
window.add(view)
view.load_html("<h1>Hello</h1>", "about:blank")
window.connect("destroy", Gtk.main_quit)
window.show_all()
print("ready", flush=True)
sys.exit(Gtk.main())
