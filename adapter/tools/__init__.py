"""Developer tools outside the runtime: the demo, the Helsenorge simulator and the
sample messages. The daemon never imports them; they may import any part."""
