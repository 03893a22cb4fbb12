"""Interactive explorers, one module per lesson topic (see ``inferlab.widgets.Explorer``)."""
