//! `#[derive(Event)]` with an optional `#[event(name = "...")]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, LitStr};

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match derive(input) {
        Ok(tokens) => tokens,
        Err(err) => err.to_compile_error(),
    }
}

fn derive(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let mut name: Option<LitStr> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("event")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                if name.is_some() {
                    return Err(meta.error("`name` is given twice"));
                }
                let value: LitStr = meta.value()?.parse()?;
                if value.value().is_empty() {
                    return Err(syn::Error::new(
                        value.span(),
                        "event name is empty; give the event a non-empty name, or leave \
                         `name` out to use the type's name",
                    ));
                }
                name = Some(value);
                Ok(())
            } else {
                Err(meta
                    .error("unknown `event` option; the only one is `#[event(name = \"...\")]`"))
            }
        })?;
    }

    let ty = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    // The trait requires `Send + Sync + 'static`; saying so on the impl lets generic
    // events be events whenever their parameters allow it.
    let mut predicates = where_clause
        .map(|w| w.predicates.clone())
        .unwrap_or_default();
    if !input.generics.params.is_empty() {
        predicates.push(syn::parse_quote!(
            #ty #ty_generics: ::core::marker::Send + ::core::marker::Sync + 'static
        ));
    }
    let body = name.map(|name| {
        quote! {
            fn name() -> &'static str {
                #name
            }
        }
    });
    Ok(quote! {
        impl #impl_generics ::ventus::Event for #ty #ty_generics where #predicates {
            #body
        }
    })
}
