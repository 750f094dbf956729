export * from "./common";
export * from "./accounts";
export * from "./orgs";
export * from "./connections";
export * from "./tools";
export * from "./agents";
export * from "./policies";
export * from "./runs";
