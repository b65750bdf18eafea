//! Flame-graph SVGs from folded stacks, drawn by [`inferno`] (CDDL-1.0).

use std::io::{self, Write};

use inferno::flamegraph::color::{BasicPalette, Palette};
use inferno::flamegraph::{self, Options};

use crate::folded::{FoldedStacks, Unit};

/// Writes an interactive flame-graph SVG (zoom and search work in a browser) of `folded`
/// to `out`. The width of a frame is its weight in the stacks' [`Unit`], which the graph
/// names; `title` and `subtitle` say what was profiled. Time is drawn in warm colours,
/// memory in cool ones; a function keeps its colour from one graph to the next.
///
/// Fails with [`io::ErrorKind::InvalidData`] when there is nothing to draw (no stack has
/// any weight), and with the writer's errors.
pub fn write_flame_graph(
    folded: &FoldedStacks,
    title: &str,
    subtitle: Option<&str>,
    out: impl Write,
) -> io::Result<()> {
    if folded.total() == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the profile has no samples to draw",
        ));
    }
    let mut options = Options::default();
    options.title = title.to_owned();
    options.subtitle = subtitle.map(str::to_owned);
    options.count_name = folded.unit().name().to_owned();
    options.colors = Palette::Basic(match folded.unit() {
        Unit::Bytes => BasicPalette::Mem,
        Unit::Microseconds | Unit::Samples => BasicPalette::Hot,
    });
    // Colour by a hash of the name rather than at random: the same function looks the
    // same in every graph, and the output is reproducible.
    options.hash = true;
    let text = folded.to_string();
    flamegraph::from_lines(&mut options, text.lines(), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_frames_with_their_unit_and_title() {
        let mut folded = FoldedStacks::new(Unit::Bytes);
        folded.add(&["main (a.js:1)", "allocate (a.js:5)"], 3 * 1024 * 1024);
        folded.add(&["main (a.js:1)"], 1024 * 1024);
        let mut svg = Vec::new();
        write_flame_graph(&folded, "Allocations", Some("live bytes"), &mut svg).expect("svg");
        let svg = String::from_utf8(svg).expect("utf-8");
        assert!(svg.starts_with("<?xml"), "{}", &svg[..100]);
        assert!(svg.contains("Allocations") && svg.contains("live bytes"));
        assert!(
            svg.contains("allocate (a.js:5) (3,145,728 bytes, 75.00%)"),
            "frame title with bytes and share"
        );
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn nothing_to_draw_is_an_error() {
        let err = write_flame_graph(
            &FoldedStacks::new(Unit::Microseconds),
            "t",
            None,
            io::sink(),
        )
        .expect_err("empty");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
