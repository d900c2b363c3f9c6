//! What the reader makes of what it reads (see [`super::Reader`]).

use std::borrow::Cow;

use super::R;

/// What the reader makes of what it reads: nothing ([`Check`], to check a document and read its
/// header), or the document's value ([`super::build::Build`]). A sink may be unsure of a scalar the
/// checker accepts (then the full parser decides).
pub(super) trait Sink<'a> {
    type Node;
    type Map;
    type Seq;
    /// An empty value (`key:` with nothing after it).
    fn null() -> Self::Node;
    /// A plain scalar the full parser reads without failing ([`super::safe_plain`]), on one line.
    fn plain(text: &'a str) -> R<Self::Node>;
    /// A quoted scalar's text.
    fn string(text: Cow<'a, str>) -> Self::Node;
    /// A block scalar: `style` `|` or `>`, `chomp` `-`, `+` or none (`b' '`); `lines` its
    /// lines as written (trailing blank lines included), the content indented by `indent`
    /// (`None`: no content line).
    fn block(style: u8, chomp: u8, lines: &'a str, indent: Option<usize>) -> R<Self::Node>;
    fn map() -> Self::Map;
    fn insert(map: &mut Self::Map, key: &'a str, value: Self::Node);
    fn end_map(map: Self::Map) -> Self::Node;
    fn seq() -> Self::Seq;
    fn push(seq: &mut Self::Seq, value: Self::Node);
    fn end_seq(seq: Self::Seq) -> Self::Node;
}

/// Checks only.
pub(super) struct Check;

impl<'a> Sink<'a> for Check {
    type Node = ();
    type Map = ();
    type Seq = ();
    fn null() {}
    fn plain(_: &'a str) -> R<()> {
        Ok(())
    }
    fn string(_: Cow<'a, str>) {}
    fn block(_: u8, _: u8, _: &'a str, _: Option<usize>) -> R<()> {
        Ok(())
    }
    fn map() {}
    fn insert(_: &mut (), _: &'a str, _: ()) {}
    fn end_map(_: ()) {}
    fn seq() {}
    fn push(_: &mut (), _: ()) {}
    fn end_seq(_: ()) {}
}
