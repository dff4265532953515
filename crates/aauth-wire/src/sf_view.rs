//! Borrowed structured-field values for hot paths.
//!
//! [`sfv::Dictionary`] owns every key, string and token it parses, in index maps. A verifier
//! reads three Dictionary fields on every request and keeps almost none of it, so this module
//! parses with sfv's visitor API into views that borrow keys, tokens and (unescaped) strings
//! from the field value. The grammar is still sfv's; only the storage differs.
//!
//! The views follow the same duplicate rules as sfv's owned types (RFC 9651 §4.2: the last
//! value of a repeated dictionary key or parameter wins and keeps the first one's position), so
//! converting a view with [`ItemView::to_item`] and friends gives exactly what
//! `sfv::Parser::parse::<Dictionary>()` would have.

use std::convert::Infallible;

use sfv::visitor::{
    DictionaryVisitor, EntryVisitor, InnerListVisitor, ItemVisitor, ParameterVisitor,
};
use sfv::{BareItem, BareItemFromInput, InnerList, Item, KeyRef, ListEntry, Parameters, Parser};

/// Parameters in wire order, duplicates resolved.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamsView<'a>(Vec<(&'a KeyRef, BareItemFromInput<'a>)>);

impl<'a> ParamsView<'a> {
    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&BareItemFromInput<'a>> {
        self.0
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .map(|(_, v)| v)
    }

    /// Whether `name` is present, whatever its type.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// `(name, value)` pairs in wire order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'a KeyRef, &BareItemFromInput<'a>)> {
        self.0.iter().map(|(k, v)| (*k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An owned copy, as sfv's parser would have produced it.
    pub fn to_parameters(&self) -> Parameters {
        self.0
            .iter()
            .map(|(k, v)| ((*k).to_owned(), BareItem::from(v.clone())))
            .collect()
    }

    fn insert(&mut self, key: &'a KeyRef, value: BareItemFromInput<'a>) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key, value)),
        }
    }
}

/// An Item: a bare item and its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemView<'a> {
    pub bare_item: BareItemFromInput<'a>,
    pub params: ParamsView<'a>,
}

impl ItemView<'_> {
    /// An owned copy.
    pub fn to_item(&self) -> Item {
        Item {
            bare_item: self.bare_item.clone().into(),
            params: self.params.to_parameters(),
        }
    }
}

/// An Inner List: items and the list's own parameters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InnerListView<'a> {
    pub items: Vec<ItemView<'a>>,
    pub params: ParamsView<'a>,
}

impl InnerListView<'_> {
    /// An owned copy.
    pub fn to_inner_list(&self) -> InnerList {
        InnerList {
            items: self.items.iter().map(ItemView::to_item).collect(),
            params: self.params.to_parameters(),
        }
    }
}

/// A Dictionary or List member.
#[derive(Clone, Debug, PartialEq)]
pub enum EntryView<'a> {
    Item(ItemView<'a>),
    InnerList(InnerListView<'a>),
}

impl EntryView<'_> {
    /// An owned copy.
    pub fn to_list_entry(&self) -> ListEntry {
        match self {
            EntryView::Item(i) => ListEntry::Item(i.to_item()),
            EntryView::InnerList(l) => ListEntry::InnerList(l.to_inner_list()),
        }
    }
}

/// A Dictionary: members in wire order, duplicates resolved.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DictionaryView<'a> {
    entries: Vec<(&'a KeyRef, EntryView<'a>)>,
    /// Whether some key appeared more than once (its last value was kept).
    repeated_keys: bool,
}

impl<'a> DictionaryView<'a> {
    /// Parses `input` as a Dictionary (RFC 9651 §4.2.2).
    pub fn parse(input: &'a str) -> Result<Self, sfv::Error> {
        Parser::new(input).parse_dictionary_with_visitor(DictionaryView::default())
    }

    /// The member `key`, if present.
    pub fn get(&self, key: &str) -> Option<&EntryView<'a>> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
    }

    /// Whether a key appeared more than once. sfv keeps the last value, as RFC 9651 says;
    /// fields whose keys must be unique in the message (signature labels) check this.
    pub fn has_repeated_keys(&self) -> bool {
        self.repeated_keys
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Keys in wire order.
    pub fn keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// `(key, member)` pairs in wire order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &EntryView<'a>)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// An owned copy, equal to what `sfv::Parser::parse::<Dictionary>()` returns.
    pub fn to_dictionary(&self) -> sfv::Dictionary {
        self.entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.to_list_entry()))
            .collect()
    }

    /// The slot for `key`: a repeated key replaces the earlier value in place.
    fn slot(&mut self, key: &'a KeyRef, value: EntryView<'a>) -> &mut EntryView<'a> {
        let at = match self.entries.iter().position(|(k, _)| *k == key) {
            Some(i) => {
                self.entries[i].1 = value;
                self.repeated_keys = true;
                i
            }
            None => {
                self.entries.push((key, value));
                self.entries.len() - 1
            }
        };
        &mut self.entries[at].1
    }
}

impl<'de> DictionaryVisitor<'de> for DictionaryView<'de> {
    type Out = Self;
    type Error = Infallible;

    fn entry(&mut self, key: &'de KeyRef) -> Result<impl EntryVisitor<'de>, Self::Error> {
        Ok(DictEntry { dict: self, key })
    }

    fn finish(self) -> Result<Self::Out, Self::Error> {
        Ok(self)
    }
}

struct DictEntry<'de, 'v> {
    dict: &'v mut DictionaryView<'de>,
    key: &'de KeyRef,
}

impl<'de> EntryVisitor<'de> for DictEntry<'de, '_> {
    type Error = Infallible;

    fn item(self) -> Result<impl ItemVisitor<'de>, Self::Error> {
        Ok(self)
    }

    fn inner_list(self) -> Result<impl InnerListVisitor<'de>, Self::Error> {
        match self
            .dict
            .slot(self.key, EntryView::InnerList(InnerListView::default()))
        {
            EntryView::InnerList(list) => Ok(Some(InnerListFill(list))),
            EntryView::Item(_) => Ok(None),
        }
    }
}

impl<'de> ItemVisitor<'de> for DictEntry<'de, '_> {
    type Out = Option<()>;
    type Error = Infallible;

    fn bare_item(
        self,
        bare_item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de, Out = Option<()>>, Self::Error> {
        let entry = EntryView::Item(ItemView {
            bare_item,
            params: ParamsView::default(),
        });
        match self.dict.slot(self.key, entry) {
            EntryView::Item(item) => Ok(Some(ParamsFill(&mut item.params))),
            EntryView::InnerList(_) => Ok(None),
        }
    }
}

struct InnerListFill<'de, 'v>(&'v mut InnerListView<'de>);

impl<'de> InnerListVisitor<'de> for InnerListFill<'de, '_> {
    type Error = Infallible;

    fn item(&mut self) -> Result<impl ItemVisitor<'de>, Self::Error> {
        Ok(InnerListItem(&mut *self.0))
    }

    fn finish(self) -> Result<impl ParameterVisitor<'de>, Self::Error> {
        Ok(ParamsFill(&mut self.0.params))
    }
}

struct InnerListItem<'de, 'v>(&'v mut InnerListView<'de>);

impl<'de> ItemVisitor<'de> for InnerListItem<'de, '_> {
    type Out = ();
    type Error = Infallible;

    fn bare_item(
        self,
        bare_item: BareItemFromInput<'de>,
    ) -> Result<impl ParameterVisitor<'de, Out = ()>, Self::Error> {
        self.0.items.push(ItemView {
            bare_item,
            params: ParamsView::default(),
        });
        let last = self.0.items.len() - 1;
        Ok(ParamsFill(&mut self.0.items[last].params))
    }
}

struct ParamsFill<'de, 'v>(&'v mut ParamsView<'de>);

impl<'de> ParameterVisitor<'de> for ParamsFill<'de, '_> {
    type Out = ();
    type Error = Infallible;

    fn parameter(
        &mut self,
        key: &'de KeyRef,
        value: BareItemFromInput<'de>,
    ) -> Result<(), Self::Error> {
        self.0.insert(key, value);
        Ok(())
    }

    fn finish(self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Human-readable SF type of a bare item, for `WrongType` errors.
pub(crate) fn kind(item: &BareItemFromInput<'_>) -> &'static str {
    match item {
        BareItemFromInput::Decimal(_) => "a Decimal",
        BareItemFromInput::Integer(_) => "an Integer",
        BareItemFromInput::String(_) => "a String",
        BareItemFromInput::ByteSequence(_) => "a Byte Sequence",
        BareItemFromInput::Boolean(_) => "a Boolean",
        BareItemFromInput::Token(_) => "a Token",
        BareItemFromInput::Date(_) => "a Date",
        BareItemFromInput::DisplayString(_) => "a Display String",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_sfv(input: &str) {
        let owned = Parser::new(input).parse::<sfv::Dictionary>();
        let view = DictionaryView::parse(input);
        match (owned, view) {
            (Ok(o), Ok(v)) => assert_eq!(v.to_dictionary(), o, "{input}"),
            (Err(_), Err(_)) => {}
            (o, v) => panic!("{input}: sfv {o:?} vs view {v:?}"),
        }
    }

    #[test]
    fn views_equal_sfvs_own_types_including_duplicates() {
        for input in [
            "",
            "a=1",
            "a=1, b=2, a=3",
            "a=(1 2);x, a=?0",
            "a=?0, a=(\"x\";p=1;p=2 :AQID:);q;q=tok",
            "sig=(\"@method\" \"@authority\");created=1;keyid=\"k\"",
            "sig=hwk;kty=\"OKP\";crv=\"Ed25519\";x=\"abc\";alg=\"Ed25519\"",
            "s=\"esc\\\"aped\"",
            "a=(, b",
            "a=:not base64!:",
            "a=1;",
        ] {
            same_as_sfv(input);
        }
    }

    #[test]
    fn repeated_keys_are_reported() {
        assert!(
            !DictionaryView::parse("a=1, b=2")
                .unwrap()
                .has_repeated_keys()
        );
        let v = DictionaryView::parse("a=1, b=2, a=3").unwrap();
        assert!(v.has_repeated_keys());
        assert_eq!(v.keys().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let v = DictionaryView::parse("a=\"plain\";p=\"x\\\\y\"").unwrap();
        let Some(EntryView::Item(item)) = v.get("a") else {
            panic!("not an item")
        };
        assert!(matches!(
            item.bare_item,
            BareItemFromInput::String(std::borrow::Cow::Borrowed(_))
        ));
        assert!(matches!(
            item.params.get("p"),
            Some(BareItemFromInput::String(std::borrow::Cow::Owned(_)))
        ));
    }
}
