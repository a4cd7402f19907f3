"""The analysts' HTML report: view model, SVG charts, templates, pages."""
