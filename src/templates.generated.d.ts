// Types for the precompiled Handlebars templates that scripts/generate.mjs writes from templates/*.hbs.
import type { TemplateSpecification } from 'handlebars';
export declare const summary: TemplateSpecification;
