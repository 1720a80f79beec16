//! `ventus::linker! { pub static NAME = builder; … }`: named linkers as statics.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Attribute, Expr, ExprMethodCall, Ident, Lit, Token, Visibility};

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match syn::parse2::<Items>(input) {
        Ok(items) => items.0.iter().map(Item::expand).collect(),
        Err(err) => err.to_compile_error(),
    }
}

struct Items(Vec<Item>);

impl Parse for Items {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut items = Vec::new();
        while !input.is_empty() {
            items.push(input.parse()?);
        }
        if items.is_empty() {
            return Err(input
                .error("declare at least one linker: `static NAME = EventLinker::builder()...;`"));
        }
        Ok(Items(items))
    }
}

/// `#[attrs] vis static NAME = builder;`
struct Item {
    attrs: Vec<Attribute>,
    vis: Visibility,
    name: Ident,
    builder: Expr,
}

impl Parse for Item {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        input.parse::<Token![static]>().map_err(|err| {
            syn::Error::new(
                err.span(),
                "expected `static NAME = EventLinker::builder()...;` in `ventus::linker!`",
            )
        })?;
        let name = input.parse()?;
        if input.peek(Token![:]) {
            return Err(input
                .error("leave the type out: `ventus::linker!` declares a `ventus::NamedLinker`"));
        }
        input.parse::<Token![=]>()?;
        let builder = input.parse()?;
        input.parse::<Token![;]>()?;
        Ok(Item {
            attrs,
            vis,
            name,
            builder,
        })
    }
}

impl Item {
    fn expand(&self) -> TokenStream {
        let Item {
            attrs,
            vis,
            name,
            builder,
        } = self;
        let mut zero = ZeroMax(None);
        zero.visit_expr(builder);
        if let Some(span) = zero.0 {
            return syn::Error::new(
                span,
                format!(
                    "`{name}`: `max_subscribers(0)` would let no handler subscribe, so the \
                     linker cannot be built; give at least 1, or leave `max_subscribers` out \
                     for no limit"
                ),
            )
            .to_compile_error();
        }
        let name_str = name.to_string();
        let build = quote_spanned!(builder.span()=>
            fn __ventus_build() -> ::ventus::EventLinkerBuilder {
                #builder
            }
        );
        quote! {
            #(#attrs)*
            #vis static #name: ::ventus::NamedLinker = {
                #build
                ::ventus::NamedLinker::__new(
                    ::core::concat!(::core::module_path!(), "::", #name_str),
                    __ventus_build,
                )
            };
        }
    }
}

/// Finds a `.max_subscribers(0)` call with a literal zero.
struct ZeroMax(Option<proc_macro2::Span>);

impl<'ast> Visit<'ast> for ZeroMax {
    fn visit_expr_method_call(&mut self, call: &'ast ExprMethodCall) {
        if call.method == "max_subscribers" && call.args.len() == 1 {
            if let Expr::Lit(lit) = &call.args[0] {
                if let Lit::Int(int) = &lit.lit {
                    if int.base10_parse::<u128>().is_ok_and(|v| v == 0) {
                        self.0 = Some(int.span());
                    }
                }
            }
        }
        syn::visit::visit_expr_method_call(self, call);
    }
}
