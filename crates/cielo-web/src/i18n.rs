//! English and Spanish words of the pages. The visitor's choice is kept in a
//! cookie; before any choice, the browser's `Accept-Language` decides.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A language of the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Spanish.
    Es,
}

impl Lang {
    /// `en` or `es`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "en" => Some(Lang::En),
            "es" => Some(Lang::Es),
            _ => None,
        }
    }

    /// The first of `en`/`es` the browser asks for; English otherwise.
    pub fn from_accept(h: Option<&http::HeaderValue>) -> Self {
        let Some(v) = h.and_then(|v| v.to_str().ok()) else {
            return Lang::En;
        };
        for part in v.split(',') {
            let tag = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("es") {
                return Lang::Es;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::En
    }

    /// The code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// Every word of the pages in this language, keyed.
    pub fn words(self) -> &'static BTreeMap<&'static str, &'static str> {
        static EN: OnceLock<BTreeMap<&str, &str>> = OnceLock::new();
        static ES: OnceLock<BTreeMap<&str, &str>> = OnceLock::new();
        let (cell, pick): (_, Pick) = match self {
            Lang::En => (&EN, |w| w.1),
            Lang::Es => (&ES, |w| w.2),
        };
        cell.get_or_init(|| {
            let mut words: BTreeMap<&str, &str> = WORDS.iter().map(|w| (w.0, pick(w))).collect();
            words.extend(status_labels(self.code()));
            words
        })
    }

    /// One word; the key itself when missing (a test keeps none missing).
    pub fn t(self, key: &str) -> &'static str {
        self.words().get(key).copied().unwrap_or("")
    }
}

/// `status_<status>` → the status's one label (from the orders domain, which
/// emails read too), as the templates' `t["status_" ~ s]` looks it up.
fn status_labels(lang: &str) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
    static KEYS: OnceLock<Vec<(cielo_orders::OrderStatus, &'static str)>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        cielo_orders::status::ALL_STATUSES
            .iter()
            .map(|s| {
                let key: &'static str =
                    Box::leak(format!("status_{}", s.as_str()).into_boxed_str());
                (*s, key)
            })
            .collect()
    });
    keys.iter().map(move |(s, key)| (*key, s.label(lang)))
}

/// Picks one language's word from a row of [`WORDS`].
type Pick = fn(&(&'static str, &'static str, &'static str)) -> &'static str;

/// (key, English, Spanish).
const WORDS: &[(&str, &str, &str)] = &[
    ("skip", "Skip to content", "Saltar al contenido"),
    ("main_nav", "Main", "Principal"),
    ("shop", "Shop", "Tienda"),
    ("cart", "Cart", "Carrito"),
    ("account", "Account", "Cuenta"),
    ("sign_in", "Sign in", "Entrar"),
    ("sign_up", "Create account", "Crear cuenta"),
    ("sign_out", "Sign out", "Salir"),
    ("language", "Language", "Idioma"),
    ("hero_title", "Made for you, after you order", "Hecho para ti, cuando lo pides"),
    ("hero_text", "Star maps of the night that matters, prints, apparel and mugs — each made to order and shipped to your door.", "Mapas estelares de la noche que importa, láminas, ropa y tazas: cada uno hecho por encargo y enviado a tu puerta."),
    ("design_yours", "Design your star map", "Diseña tu mapa estelar"),
    ("featured", "Featured", "Destacados"),
    ("categories", "Categories", "Categorías"),
    ("all_products", "All products", "Todos los productos"),
    ("search", "Search", "Buscar"),
    ("search_label", "Search products", "Buscar productos"),
    ("category", "Category", "Categoría"),
    ("all_categories", "All categories", "Todas las categorías"),
    ("sort", "Sort by", "Ordenar por"),
    ("newest", "Newest", "Novedades"),
    ("price_asc", "Price: low to high", "Precio: de menor a mayor"),
    ("price_desc", "Price: high to low", "Precio: de mayor a menor"),
    ("apply", "Apply", "Aplicar"),
    ("next_page", "Next page", "Página siguiente"),
    ("first_page", "First page", "Primera página"),
    ("no_results", "No products match your search.", "Ningún producto coincide con tu búsqueda."),
    ("no_results_hint", "Try another word, or browse all products.", "Prueba con otra palabra o mira todos los productos."),
    ("from", "from", "desde"),
    ("view", "View", "Ver"),
    ("variant", "Option", "Opción"),
    ("quantity", "Quantity", "Cantidad"),
    ("add_to_cart", "Add to cart", "Añadir al carrito"),
    ("personalise", "Personalise", "Personaliza"),
    ("place", "City or place", "Ciudad o lugar"),
    ("place_hint", "Start typing and choose a city from the list.", "Empieza a escribir y elige una ciudad de la lista."),
    ("place_unknown", "No city found with that name. Check the spelling or try a nearby city.", "No encontramos ninguna ciudad con ese nombre. Revisa cómo se escribe o prueba una ciudad cercana."),
    ("place_choose", "Choose a city from the list to see your sky.", "Elige una ciudad de la lista para ver tu cielo."),
    ("date", "Date", "Fecha"),
    ("time", "Local time", "Hora local"),
    ("time_zone", "Time zone", "Zona horaria"),
    ("theme", "Theme", "Tema"),
    ("size", "Size", "Tamaño"),
    ("title", "Title", "Título"),
    ("message", "Message", "Mensaje"),
    ("constellation_names", "Constellation names", "Nombres de constelaciones"),
    ("grid", "Coordinate grid", "Cuadrícula de coordenadas"),
    ("poster_language", "Poster language", "Idioma del póster"),
    // The designer's pickers and their choices (ids from the preview's options).
    ("font", "Font", "Tipo de letra"),
    ("layout", "Layout", "Diseño"),
    ("shape", "Shape", "Forma"),
    ("options", "Options", "Opciones"),
    ("layout_classic", "Classic: the sky above, the words below", "Clásico: el cielo arriba, el texto debajo"),
    ("layout_full-bleed", "Full-bleed: the sky to the edges, the words on a band", "A sangre: el cielo hasta los bordes, el texto en una franja"),
    ("layout_moon-panel", "Sky and Moon: the sky with a panel of the Moon's phase", "Cielo y Luna: el cielo con un panel de la fase lunar"),
    ("shape_circle", "Circle (the whole sky to the horizon)", "Círculo (todo el cielo hasta el horizonte)"),
    ("shape_square", "Square (inside the horizon)", "Cuadrado (dentro del horizonte)"),
    ("shape_heart", "Heart (inside the horizon)", "Corazón (dentro del horizonte)"),
    ("theme_classic-dark", "Classic dark", "Clásico oscuro"),
    ("theme_midnight-blue", "Midnight blue", "Azul medianoche"),
    ("theme_minimal-light", "Minimal light", "Claro minimalista"),
    ("theme_colour", "Colour", "Color"),
    ("preview", "Preview", "Vista previa"),
    ("preview_alt", "Preview of your star map", "Vista previa de tu mapa estelar"),
    ("preview_wait", "Drawing your sky…", "Dibujando tu cielo…"),
    ("preview_failed", "The preview could not be drawn with these choices; check them and try again.", "No pudimos dibujar la vista previa con estas opciones; revísalas e inténtalo de nuevo."),
    ("this_field", "This field", "Este campo"),
    ("err_empty", "Fill in “{label}”.", "Rellena «{label}»."),
    ("err_too_long", "“{label}” can have at most {n} characters.", "«{label}» puede tener como mucho {n} caracteres."),
    ("err_too_short", "“{label}” needs at least {n} characters.", "«{label}» necesita al menos {n} caracteres."),
    ("err_control", "Remove line breaks and special characters from “{label}”.", "Quita los saltos de línea y caracteres especiales de «{label}»."),
    ("err_check", "Check “{label}”.", "Revisa «{label}»."),
    ("err_country_pick", "Choose a country from the list.", "Elige un país de la lista."),
    ("err_sms_phone", "Give a mobile number above to get text messages, or untick this box.", "Escribe un móvil arriba para recibir SMS, o desmarca esta casilla."),
    ("err_email", "Enter an email address like name@example.com.", "Escribe un correo como nombre@ejemplo.com."),
    ("err_phone", "Enter the phone with its country code, like +34 600 12 34 56, or leave it empty.", "Escribe el teléfono con su prefijo de país, como +34 600 12 34 56, o déjalo vacío."),
    ("courier_phone", "Phone for the courier (optional)", "Teléfono para el transportista (opcional)"),
    ("fold_earlier", "The first time (before the clocks go back)", "La primera vez (antes de atrasar los relojes)"),
    ("fold_later", "The second time (after the clocks go back)", "La segunda vez (después de atrasar los relojes)"),
    ("not_found_hint", "There is no page at this address. It may have moved, or the link may be mistyped.", "No hay ninguna página en esta dirección. Puede que se haya movido o que el enlace esté mal escrito."),
    ("err_place", "Choose a city from the list of suggestions.", "Elige una ciudad de la lista de sugerencias."),
    ("err_date", "Enter a date like 2024-08-13, between {min} and {max}.", "Escribe una fecha como 2024-08-13, entre {min} y {max}."),
    ("err_time", "Enter a time like 21:30.", "Escribe una hora como 21:30."),
    ("err_time_gap", "That time did not exist there on that day: the clocks went forward. Choose {time} instead.", "Esa hora no existió ese día en ese lugar: se adelantaron los relojes. Elige las {time}."),
    ("err_title", "Keep the title to {n} characters or fewer.", "El título puede tener como mucho {n} caracteres."),
    ("err_message", "Keep the message to {n} characters or fewer.", "El mensaje puede tener como mucho {n} caracteres."),
    ("err_glyph", "The {label} has characters the poster cannot print: {chars}. Use letters of the Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari, Thai, Chinese, Japanese or Korean scripts, without emoji or symbols.", "El {label} tiene caracteres que el póster no puede imprimir: {chars}. Usa letras latinas, griegas, cirílicas, árabes, hebreas, devanagari, tailandesas, chinas, japonesas o coreanas, sin emojis ni símbolos."),
    ("glyph_title", "title", "título"),
    ("glyph_message", "message", "mensaje"),
    ("err_second", "This layout needs a second place or date, which this page cannot ask for. Choose another layout.", "Este diseño necesita un segundo lugar o fecha, que esta página no puede pedir. Elige otro diseño."),
    ("fix_below", "We could not add this to your cart:", "No pudimos añadirlo al carrito:"),
    ("err_signin", "The email or password is not right.", "El correo o la contraseña no son correctos."),
    ("err_choice", "Choose one of the options in the list.", "Elige una de las opciones de la lista."),
    ("err_quantity", "Enter a quantity from 1 to 99.", "Escribe una cantidad entre 1 y 99."),
    ("err_add", "We could not add this to your cart. Check your choices and try again.", "No pudimos añadirlo al carrito. Revisa lo que elegiste e inténtalo de nuevo."),
    ("err_country", "We do not ship to that country. Choose one from the list.", "No hacemos envíos a ese país. Elige uno de la lista."),
    ("err_cart_quantity", "Enter a whole number from 0 to {n} (0 removes the item). Nothing was changed.", "Escribe un número entero entre 0 y {n} (0 lo quita del carrito). No se cambió nada."),
    ("qty_capped", "You can order at most {n} of one item; we set it to {n}.", "Puedes pedir como mucho {n} unidades de un artículo; lo dejamos en {n}."),
    ("qty_removed", "The item was removed from your cart.", "Quitamos el artículo del carrito."),
    ("ships_to", "We ship to:", "Enviamos a:"),
    ("sky_anywhere", "The sky can be over any place in the world; the poster is shipped to the address you give at checkout.", "El cielo puede ser de cualquier lugar del mundo; el póster se envía a la dirección que des al pagar."),
    ("preview_after_fix", "The preview comes back once the date and time are corrected.", "La vista previa vuelve cuando corrijas la fecha y la hora."),
    ("fold", "Which one (that time happens twice when the clocks go back)", "Cuál (esa hora se repite cuando se atrasan los relojes)"),
    ("your_cart", "Your cart", "Tu carrito"),
    ("order_items", "What you ordered", "Lo que pediste"),
    ("cart_empty", "Your cart is empty.", "Tu carrito está vacío."),
    ("keep_shopping", "Keep shopping", "Seguir comprando"),
    ("update", "Update", "Actualizar"),
    ("remove", "Remove", "Quitar"),
    ("subtotal", "Subtotal", "Subtotal"),
    ("shipping", "Shipping", "Envío"),
    ("shipping_to", "Shipping to", "Envío a"),
    ("tax", "Tax", "Impuestos"),
    ("estimate", "estimate; choose a country", "estimado; elige un país"),
    ("shipping_note", "Shipping is charged for the address you enter here.", "El envío se cobra según la dirección que indiques aquí."),
    ("total", "Total", "Total"),
    ("region", "State / province / region", "Estado / provincia / región"),
    ("country", "Country", "País"),
    ("show_shipping", "Show shipping", "Ver envío"),
    ("checkout", "Checkout", "Finalizar compra"),
    ("contact", "Contact", "Contacto"),
    ("email", "Email", "Correo electrónico"),
    ("phone", "Phone (optional)", "Teléfono (opcional)"),
    ("sms_opt_in", "Text me order updates", "Avisarme por SMS del pedido"),
    ("phone_hint", "For the courier; with the box below ticked, also for text messages (international form, e.g. +34600123456).", "Para el transportista; si marcas la casilla de abajo, también para SMS (formato internacional, p. ej. +34600123456)."),
    ("ship_to", "Shipping address", "Dirección de envío"),
    ("name", "Full name", "Nombre completo"),
    ("line1", "Address", "Dirección"),
    ("line2", "Apartment, suite, etc. (optional)", "Piso, puerta, etc. (opcional)"),
    ("city", "City", "Ciudad"),
    ("postal_code", "Postal code", "Código postal"),
    ("pay_now", "Continue to payment", "Continuar al pago"),
    ("fix_errors", "Please correct the highlighted fields.", "Corrige los campos señalados."),
    ("order", "Order", "Pedido"),
    ("order_status", "Status", "Estado"),
    ("timeline", "Timeline", "Historial"),
    ("tracking", "Tracking", "Seguimiento"),
    ("track_parcel", "Track parcel", "Seguir el paquete"),
    ("print_file", "Download print file", "Descargar archivo de impresión"),
    ("digital_download", "Digital download (PNG + PDF)", "Descarga digital (PNG + PDF)"),
    ("downloads", "Downloads", "Descargas"),
    ("download_png", "Download PNG", "Descargar PNG"),
    ("download_pdf", "Download PDF", "Descargar PDF"),
    ("downloads_until", "You can download your files until", "Puedes descargar tus archivos hasta el"),
    ("downloads_fresh", "These links work for a few minutes; reload this page for fresh ones.", "Estos enlaces funcionan unos minutos; recarga esta página para obtener otros nuevos."),
    ("downloads_preparing", "Your files are being made; this page shows the links when they are ready.", "Estamos preparando tus archivos; esta página mostrará los enlaces cuando estén listos."),
    ("downloads_expired", "The download period of this order has ended: the downloads have expired.", "El plazo de descarga de este pedido ha terminado: las descargas han caducado."),
    ("downloads_unavailable", "Downloads are available only for a paid order (not one cancelled or refunded).", "Las descargas solo están disponibles para un pedido pagado (no cancelado ni reembolsado)."),
    ("no_shipping", "Digital downloads only: nothing to ship.", "Solo descargas digitales: nada que enviar."),
    ("order_live", "This page updates by itself as your order moves.", "Esta página se actualiza sola según avanza tu pedido."),
    ("order_not_found", "We could not find that order. Use the link from your confirmation, or sign in.", "No encontramos ese pedido. Usa el enlace de tu confirmación o inicia sesión."),
    ("pay_again", "Complete payment", "Completar el pago"),
    ("your_orders", "Your orders", "Tus pedidos"),
    ("no_orders", "No orders yet.", "Aún no hay pedidos."),
    ("addresses", "Addresses", "Direcciones"),
    ("add_address", "Add address", "Añadir dirección"),
    ("delete", "Delete", "Borrar"),
    ("saved_cards", "Saved cards", "Tarjetas guardadas"),
    ("no_saved_cards", "No saved cards. Tick “Save this card for next time” when you pay, and it will be offered at your next checkout.", "No hay tarjetas guardadas. Marca «Guardar esta tarjeta para la próxima vez» al pagar y te la ofreceremos en tu próxima compra."),
    ("card_expires", "expires", "caduca"),
    ("cards_unavailable", "Your saved cards cannot be shown right now. Please try again later.", "Ahora no podemos mostrar tus tarjetas guardadas. Inténtalo de nuevo más tarde."),
    ("remove_card", "Remove", "Quitar"),
    ("password", "Password", "Contraseña"),
    ("password_hint", "At least 10 characters.", "Al menos 10 caracteres."),
    ("have_account", "Already have an account?", "¿Ya tienes cuenta?"),
    ("no_account", "New here?", "¿Eres nuevo?"),
    ("not_found", "Page not found", "Página no encontrada"),
    // Said under the status label while an order in production waits in
    // its edit window, before it goes to the lab.
    ("status_waiting", "Waiting to go to the print lab", "Esperando para ir al taller"),
    ("edit_window", "You can still correct the shipping address or the poster's title until", "Puedes corregir la dirección de envío o el título del póster hasta el"),
    ("edit_window_then", "Then your order goes to the print lab.", "Después tu pedido irá al taller."),
    ("fix_order", "Correct the address or the poster's title", "Corregir la dirección o el título del póster"),
    ("edit_window_address", "You can still correct the shipping address until", "Puedes corregir la dirección de envío hasta el"),
    ("fix_address", "Correct the shipping address", "Corregir la dirección de envío"),
    ("poster_title", "Poster title", "Título del póster"),
    ("save_changes", "Save changes", "Guardar cambios"),
    ("changes_saved", "Your changes are saved.", "Tus cambios están guardados."),
    ("footer", "Every item is made to order.", "Cada artículo se hace por encargo."),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_exists_in_both_languages() {
        for (k, en, es) in WORDS {
            assert!(
                !en.is_empty() && !es.is_empty(),
                "{k} is missing a translation"
            );
        }
        let keys: std::collections::BTreeSet<_> = WORDS.iter().map(|w| w.0).collect();
        assert_eq!(keys.len(), WORDS.len(), "a key is defined twice");
    }

    #[test]
    fn accept_language_picks_spanish_or_english() {
        let h = http::HeaderValue::from_static("es-MX,es;q=0.9,en;q=0.8");
        assert_eq!(Lang::from_accept(Some(&h)), Lang::Es);
        let h = http::HeaderValue::from_static("de-DE,en;q=0.5");
        assert_eq!(Lang::from_accept(Some(&h)), Lang::En);
        assert_eq!(Lang::from_accept(None), Lang::En);
    }
}
