//! `#[ventus::on(..)]` and `#[ventus::once(..)]`: parse the attribute, check the function's
//! shape, and emit the function unchanged plus one registration item.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Ident, ItemFn, LitStr, Path, Token, Type};

/// What every handler error message ends with: the shapes that are accepted.
const SHAPES: &str = "a handler is a free, non-generic function with no argument or one \
payload argument: `fn f()`, `fn f(payload: &P)`, `async fn f()` or `async fn f(payload: P)`";

/// Which attribute is being expanded.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    On,
    Once,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::On => "#[ventus::on]",
            Kind::Once => "#[ventus::once]",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::On => "ventus::on",
            Kind::Once => "ventus::once",
        }
    }
}

pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let err = syn::Error::new(
                Span::call_site(),
                format!(
                    "{} goes on a function; {SHAPES}; events are linked to handlers, not to \
                     other items",
                    kind.attr()
                ),
            );
            // Keep the item so that the one error is all the user sees.
            let err = err.to_compile_error();
            return quote!(#err #item);
        }
    };
    let parsed = syn::parse2::<Args>(args)
        .and_then(|args| Attr::from_args(kind, args))
        .and_then(|attr| check_shape(kind, &func, &attr).map(|()| attr));
    match parsed {
        Ok(attr) => {
            let registration = registration(kind, &func, &attr);
            quote!(#func #registration)
        }
        Err(err) => {
            let err = err.to_compile_error();
            quote!(#err #func)
        }
    }
}

/// One argument of the attribute, as written.
enum Arg {
    /// `"EventName"`
    Name(LitStr),
    /// `any`, `blocking`, or `once` (the last refused with advice).
    Flag(Ident),
    /// `key = value`
    Option(Ident, Expr),
    /// `OrderCreated`: a typed event.
    Type(Type),
}

impl Parse for Arg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            return input.parse().map(Arg::Name);
        }
        if input.peek(Ident) && input.peek2(Token![=]) {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let value = match key.to_string().as_str() {
                // Types are parsed as types so `error = Vec<u8>` reads as written.
                "error" => Expr::Verbatim(input.parse::<Type>()?.into_token_stream()),
                _ => input.parse()?,
            };
            return Ok(Arg::Option(key, value));
        }
        if input.peek(Ident) && (input.peek2(Token![,]) || peek2_is_end(input)) {
            let fork = input.fork();
            let ident: Ident = fork.parse()?;
            if matches!(ident.to_string().as_str(), "any" | "blocking" | "once") {
                input.parse::<Ident>()?;
                return Ok(Arg::Flag(ident));
            }
        }
        input.parse().map(Arg::Type)
    }
}

fn peek2_is_end(input: ParseStream<'_>) -> bool {
    let fork = input.fork();
    fork.parse::<proc_macro2::TokenTree>().is_ok() && fork.is_empty()
}

struct Args(Punctuated<Arg, Token![,]>);

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Punctuated::parse_terminated(input).map(Args)
    }
}

/// What the handler is linked to.
enum Target {
    Names(Vec<LitStr>),
    Event(Type),
    Error(TokenStream),
    Key(Expr),
    Any,
}

/// The attribute, checked.
struct Attr {
    target: Target,
    /// `name = ".."`: the handler's name in errors, reports and logs.
    name: Option<LitStr>,
    linker: Option<Path>,
    blocking: Option<Ident>,
    /// `priority = ..`: any expression of type `i32`, given to `.priority(..)`.
    priority: Option<Expr>,
    on_success: Option<Expr>,
    on_failure: Option<Expr>,
}

impl Attr {
    fn from_args(kind: Kind, args: Args) -> syn::Result<Self> {
        let attr = kind.attr();
        let mut names: Vec<LitStr> = Vec::new();
        let mut other: Option<(Target, Span)> = None;
        let mut linker = None;
        let mut handler_name: Option<LitStr> = None;
        let mut blocking = None;
        let mut priority = None;
        let mut on_success = None;
        let mut on_failure = None;

        let mut set_other = |target: Target, span: Span| -> syn::Result<()> {
            if other.is_some() {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "{attr} links to one typed event, error type, key or `any` at a time; \
                         put another attribute on the function for the next one"
                    ),
                ));
            }
            other = Some((target, span));
            Ok(())
        };

        for arg in args.0 {
            match arg {
                Arg::Name(name) => {
                    if name.value().is_empty() {
                        return Err(syn::Error::new(
                            name.span(),
                            "event name is empty; give the event a non-empty name",
                        ));
                    }
                    names.push(name);
                }
                Arg::Type(ty) => {
                    let span = ty.span();
                    set_other(Target::Event(ty), span)?;
                }
                Arg::Flag(flag) => match flag.to_string().as_str() {
                    "any" => set_other(Target::Any, flag.span())?,
                    "blocking" => {
                        if blocking.is_some() {
                            return Err(duplicate(&flag));
                        }
                        blocking = Some(flag);
                    }
                    _ => {
                        return Err(syn::Error::new(
                            flag.span(),
                            "write `#[ventus::once(..)]` for a handler that runs once, \
                             not `once` among the options",
                        ))
                    }
                },
                Arg::Option(key, value) => match key.to_string().as_str() {
                    "error" => {
                        let Expr::Verbatim(ty) = value else {
                            unreachable!("`error = ..` is parsed as a type")
                        };
                        set_other(Target::Error(ty), key.span())?;
                    }
                    "key" => set_other(Target::Key(value), key.span())?,
                    "name" => {
                        if handler_name.is_some() {
                            return Err(duplicate(&key));
                        }
                        let name = match value {
                            Expr::Lit(syn::ExprLit {
                                lit: syn::Lit::Str(name),
                                ..
                            }) => name,
                            other => {
                                return Err(syn::Error::new(
                                    other.span(),
                                    "`name = ..` takes a string literal, such as \
                                     `name = \"send-receipt\"`",
                                ))
                            }
                        };
                        if name.value().is_empty() {
                            return Err(syn::Error::new(
                                name.span(),
                                "handler name is empty; give `name` a non-empty name, or \
                                 leave it out to use the function's name",
                            ));
                        }
                        handler_name = Some(name);
                    }
                    "linker" => {
                        if linker.is_some() {
                            return Err(duplicate(&key));
                        }
                        let Expr::Path(path) = value else {
                            return Err(syn::Error::new(
                                value.span(),
                                "`linker = ..` takes the path of a named linker declared \
                                 with `ventus::linker!`, such as `linker = PAYMENTS`",
                            ));
                        };
                        linker = Some(path.path);
                    }
                    "priority" => {
                        if priority.is_some() {
                            return Err(duplicate(&key));
                        }
                        priority = Some(value);
                    }
                    "on_success" | "on_failure" => {
                        if !matches!(value, Expr::Path(_) | Expr::Closure(_)) {
                            return Err(syn::Error::new(
                                value.span(),
                                format!(
                                    "`{key} = ..` takes a path to a function (or a closure); \
                                     it is given to the builder's `.{key}(..)` step"
                                ),
                            ));
                        }
                        let slot = if key == "on_success" {
                            &mut on_success
                        } else {
                            &mut on_failure
                        };
                        if slot.is_some() {
                            return Err(duplicate(&key));
                        }
                        *slot = Some(value);
                    }
                    _ => {
                        return Err(syn::Error::new(
                            key.span(),
                            format!(
                                "unknown option `{key}`; {attr} takes event names, a typed \
                                 event, `error = Type`, `key = KEY` or `any`, then the options \
                                 `name = \"..\"`, `linker = NAME`, `blocking`, \
                                 `priority = N`, `on_success = path` and \
                                 `on_failure = path`"
                            ),
                        ))
                    }
                },
            }
        }

        let target = match (names.is_empty(), other) {
            (false, None) => Target::Names(names),
            (true, Some((target, _))) => target,
            (false, Some((_, span))) => {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "{attr} links either to event names or to one typed event, error type, \
                         key or `any`, not both; put another attribute on the function"
                    ),
                ))
            }
            (true, None) => {
                return Err(syn::Error::new(
                    Span::call_site(),
                    format!(
                        "{attr} needs the events to link to: names such as \
                         `#[{p}(\"OrderCreated\")]`, a typed event `#[{p}(OrderCreated)]`, \
                         `#[{p}(error = MyError)]`, `#[{p}(key = MY_KEY)]` or `#[{p}(any)]`",
                        p = kind.path(),
                    ),
                ))
            }
        };
        Ok(Attr {
            target,
            name: handler_name,
            linker,
            blocking,
            priority,
            on_success,
            on_failure,
        })
    }
}

fn duplicate(key: &Ident) -> syn::Error {
    syn::Error::new(key.span(), format!("`{key}` is given twice"))
}

/// Checks that the function is a handler shape the core accepts.
fn check_shape(kind: Kind, func: &ItemFn, attr: &Attr) -> syn::Result<()> {
    let name = kind.attr();
    let sig = &func.sig;
    if let Some(receiver) = sig.receiver() {
        return Err(syn::Error::new(
            receiver.span(),
            format!(
                "{name} cannot go on a method: there is no `self` when the event is emitted; \
                 {SHAPES}"
            ),
        ));
    }
    if sig.inputs.len() > 1 {
        let extra = &sig.inputs[1];
        return Err(syn::Error::new(
            extra.span(),
            format!(
                "{name}: a handler takes at most one payload argument, this one takes {}; \
                 emit one payload that holds them all, such as a struct or a tuple `&(A, B)`; \
                 {SHAPES}",
                sig.inputs.len()
            ),
        ));
    }
    let is_async = sig.asyncness.is_some();
    if let Some(FnArg::Typed(arg)) = sig.inputs.first() {
        check_payload(name, is_async, &arg.ty)?;
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            format!(
                "{name}: a handler cannot be generic, the attribute registers one concrete \
                 function; write it for the payload type it takes; {SHAPES}"
            ),
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        return Err(syn::Error::new(
            unsafety.span(),
            format!("{name}: a handler cannot be an `unsafe fn`; {SHAPES}"),
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new(
            variadic.span(),
            format!("{name}: a handler cannot be variadic; {SHAPES}"),
        ));
    }
    if let (true, Some(blocking)) = (is_async, &attr.blocking) {
        return Err(syn::Error::new(
            blocking.span(),
            format!(
                "{name}: `blocking` runs a sync handler on tokio's blocking pool; an async \
                 handler is already interleaved with the others, so remove `blocking` or make \
                 the function sync"
            ),
        ));
    }
    Ok(())
}

/// Checks the payload argument: `&P` for a sync handler, `P` for an async one.
fn check_payload(name: &str, is_async: bool, ty: &Type) -> syn::Result<()> {
    if let Type::ImplTrait(_) = ty {
        return Err(syn::Error::new(
            ty.span(),
            format!(
                "{name}: a handler cannot take `impl Trait`, the attribute registers one \
                 concrete function; name the payload type; {SHAPES}"
            ),
        ));
    }
    match (is_async, ty) {
        (false, Type::Reference(r)) => {
            if let Some(mutability) = &r.mutability {
                return Err(syn::Error::new(
                    mutability.span(),
                    format!(
                        "{name}: the payload is shared by every handler of the emission, so a \
                         sync handler takes it as `&P`, not `&mut P`; {SHAPES}"
                    ),
                ));
            }
            if let Some(lifetime) = &r.lifetime {
                return Err(syn::Error::new(
                    lifetime.span(),
                    format!(
                        "{name}: write the payload as `&P`, without the lifetime `{lifetime}`: \
                         a sync handler borrows the payload only while it runs, for a lifetime \
                         the emission chooses; {SHAPES}"
                    ),
                ));
            }
            Ok(())
        }
        (false, _) => Err(syn::Error::new(
            ty.span(),
            format!(
                "{name}: a sync handler takes its payload by reference: write `&{}`; {SHAPES}",
                ty.to_token_stream()
            ),
        )),
        (true, Type::Reference(r)) if r.lifetime.as_ref().is_none_or(|l| l.ident != "static") => {
            Err(syn::Error::new(
                ty.span(),
                format!(
                    "{name}: an async handler takes its payload by value (a clone, `P: Clone`): \
                     write `{}`; the future it returns outlives the emission's borrow; {SHAPES}",
                    r.elem.to_token_stream()
                ),
            ))
        }
        (true, _) => Ok(()),
    }
}

/// The registration item: a `const _` block with the function that subscribes the
/// handler and the `inventory` item that points at it.
fn registration(kind: Kind, func: &ItemFn, attr: &Attr) -> TokenStream {
    let handler_name = func.sig.ident.to_string();
    // Spanned at the attribute: a handler that does not fit its event is reported there,
    // with rustc's note pointing at the function's signature.
    let handler = Ident::new(&handler_name, Span::call_site());
    let start = match &attr.target {
        Target::Names(names) => quote!(.on([#(#names),*])),
        Target::Event(ty) => quote_spanned!(ty.span()=> .on_event::<#ty>()),
        Target::Error(ty) => quote!(.on_error::<#ty>()),
        Target::Key(key) => quote!(.on(#key)),
        Target::Any => quote!(.on_any()),
    };
    let once = match kind {
        Kind::Once => quote!(.once()),
        Kind::On => quote!(),
    };
    let blocking = attr
        .blocking
        .as_ref()
        .map(|b| quote_spanned!(b.span()=> .blocking()));
    // Without `name = ..`, the handler keeps its type name: the function's path.
    let name = attr.name.as_ref().map(|name| quote!(.name(#name)));
    let priority = attr
        .priority
        .as_ref()
        .map(|p| quote_spanned!(p.span()=> .priority(#p)));
    let on_success = attr.on_success.as_ref().map(|f| quote!(.on_success(#f)));
    let on_failure = attr.on_failure.as_ref().map(|f| quote!(.on_failure(#f)));
    let register = format_ident!("__ventus_register_{}", handler_name);
    let (linker_fn, linker_field) = match &attr.linker {
        Some(path) => {
            let get = format_ident!("__ventus_linker_of_{}", handler_name);
            let reference = quote_spanned!(path.span()=> &#path);
            (
                quote! {
                    fn #get() -> &'static ::ventus::NamedLinker {
                        #reference
                    }
                },
                quote!(::core::option::Option::Some(#get)),
            )
        }
        None => (quote!(), quote!(::core::option::Option::None)),
    };
    quote! {
        const _: () = {
            fn #register(
                linker: &::ventus::EventLinker,
            ) -> ::core::result::Result<::ventus::Subscription, ::ventus::SubscribeError> {
                linker #start #name #once #blocking #priority #on_success #on_failure .subscribe(#handler)
            }
            #linker_fn
            ::ventus::__private::inventory::submit! {
                ::ventus::__private::Registration {
                    linker: #linker_field,
                    register: #register,
                    handler: ::core::concat!(::core::module_path!(), "::", #handler_name),
                    file: ::core::file!(),
                    line: ::core::line!(),
                    column: ::core::column!(),
                }
            }
        };
    }
}
