//! Platforms: `os/arch[/variant]` strings, their slugs, and which binfmt entry runs a foreign one.

/// `linux/arm64/v8` → ("linux", "arm64", Some("v8")).
pub fn platform_parts(p: &str) -> (&str, &str, Option<&str>) {
    let mut it = p.split('/');
    let os = it.next().unwrap_or("linux");
    let arch = it.next().unwrap_or("");
    (os, arch, it.next().filter(|v| !v.is_empty()))
}

/// A tag-safe name: `linux/amd64` → `amd64`, `linux/arm/v7` → `arm-v7`.
pub fn platform_slug(p: &str) -> String {
    let (_, arch, variant) = platform_parts(p);
    match variant {
        Some(v) => format!("{arch}-{v}"),
        None => arch.to_string(),
    }
}

/// The same platform? `linux/arm64` and `linux/arm64/v8` are (v8 is arm64's only variant).
pub fn same_platform(a: &str, b: &str) -> bool {
    let norm = |p: &str| {
        let (os, arch, variant) = platform_parts(p);
        let variant = match (arch, variant) {
            ("arm64", Some("v8")) => None,
            (_, v) => v,
        };
        (
            os.to_string(),
            arch.to_string(),
            variant.map(str::to_string),
        )
    };
    norm(a) == norm(b)
}

/// This machine's platform in Docker's terms.
pub fn native_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    format!("linux/{arch}")
}

/// The qemu binfmt entry that runs `platform`'s binaries here (None: native, nothing needed).
pub(crate) fn binfmt_entry(platform: &str) -> Option<&'static str> {
    let (_, arch, _) = platform_parts(platform);
    if same_platform(platform, &native_platform()) {
        return None;
    }
    Some(match arch {
        "arm64" => "qemu-aarch64",
        "arm" => "qemu-arm",
        "amd64" => "qemu-x86_64",
        "386" => "qemu-i386",
        "ppc64le" => "qemu-ppc64le",
        "s390x" => "qemu-s390x",
        "riscv64" => "qemu-riscv64",
        _ => "qemu-unknown",
    })
}

/// Replaces `${TARGETPLATFORM}`, `${TARGETOS}`, `${TARGETARCH}`, `${TARGETVARIANT}` in a
/// configured build-arg value, so each platform can name its own base image.
pub fn substitute_platform(value: &str, platform: &str) -> String {
    let (os, arch, variant) = platform_parts(platform);
    value
        .replace("${TARGETPLATFORM}", platform)
        .replace("${TARGETOS}", os)
        .replace("${TARGETARCH}", arch)
        .replace("${TARGETVARIANT}", variant.unwrap_or(""))
}
